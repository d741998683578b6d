"""The map: counts of centers and victims per country match the findings; offline borders."""

from __future__ import annotations

from collections import Counter

from scamtrace.workspace.geo import countries_geojson, country_centroids, map_data
from tests.workspace.conftest import World
from tests.workspace.test_graph import rows


def test_country_counts_match_the_findings(viz_world: World) -> None:
    result = map_data(viz_world.data)
    centers = rows(viz_world.findings_dir, "centers")
    victims = {e["value"] for e in rows(viz_world.findings_dir, "entities")
               if e["kind"] == "victim_phone"}
    features = result["countries"]["features"]
    counted = Counter({f["properties"]["iso_a2"]: f["properties"]["centers"] for f in features})
    expected = Counter(c["country"] for c in centers if c["country"])
    assert +counted == expected
    placed = sum(f["properties"]["victims"] for f in features)
    assert placed + result["totals"]["victims_unplaced"] == len(victims)
    assert result["totals"] == {"centers": len(centers), "victims": len(victims),
                                "victims_unplaced": result["totals"]["victims_unplaced"]}
    assert result["totals"]["victims_unplaced"] < len(victims) / 10
    for country in {r["country"] for r in result["regions"]}:
        in_regions = sum(r["victims"] for r in result["regions"] if r["country"] == country)
        assert in_regions <= next(c["victims"] for c in result["by_country"]
                                  if c["country"] == country)


def test_a_networks_map_counts_its_own_victims(viz_world: World) -> None:
    for network in rows(viz_world.findings_dir, "networks"):
        result = map_data(viz_world.data, network_id=network["network_id"])
        assert result["totals"]["victims"] == int(network["victims"])
        assert all(c["network_id"] == network["network_id"] for c in result["centers"])


def test_the_boundaries_ship_in_the_package() -> None:
    features = countries_geojson()["features"]
    codes = {f["properties"]["iso_a2"] for f in features}
    assert {"CN", "ES", "US", "KH", "MM"} <= codes
    lon, lat = country_centroids()["ES"]
    assert -10 < lon < 4 and 35 < lat < 44
    lon, lat = country_centroids()["CN"]
    assert 80 < lon < 120 and 25 < lat < 45
