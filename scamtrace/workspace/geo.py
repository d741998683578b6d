"""Where a case's centers and victims are: country polygons with counts, and regions.

Countries are Natural Earth's 1:110m admin-0 boundaries shipped in the package
(``static/vendor/countries-110m.geojson``, see its README), never fetched. Centers are placed
by ``centers.csv``'s country and region. Victims are placed by their number: ``phonenumbers``
gives a number's country and, for many numbering plans, a place (``Cangzhou, Hebei`` for a
Chinese mobile); the region is that description's last part (the province, the state).

Victims can be 300,000: DuckDB groups their distinct numbers by the first
:data:`PREFIX_DIGITS` digits (the length of the geocoder's Chinese mobile prefixes, and longer
than the area codes of fixed lines), ``phonenumbers`` describes one number of each prefix (a
cached answer per prefix), and the counts are summed per country and region.

Boundaries below the country are not shipped (no small, maintained admin-1 package on npm):
a region is drawn as a point on its country's centroid and listed in the table beside the
map, largest first.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any

import phonenumbers
from phonenumbers import geocoder

from scamtrace.workspace.data import CaseData

#: Digits of E.164 (country code included) a victim's number is grouped by before geocoding.
PREFIX_DIGITS = 9
#: Victim kinds placed on the map (those who answered; those who paid are among them).
VICTIM_KIND = "victim_phone"
#: Prefix groups geocoded at most; the rest count as unplaced.
MAX_PREFIXES = 200_000
GEOJSON = "countries-110m.geojson"


@cache
def countries_geojson() -> dict[str, Any]:
    """The shipped country boundaries (read once)."""
    path = resources.files("scamtrace.workspace").joinpath("static", "vendor", GEOJSON)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _ring_centroid(ring: list[list[float]]) -> tuple[float, float, float]:
    """Planar area-weighted centroid of one ring: (area, lon, lat)."""
    area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in pairwise(ring):
        cross = x0 * y1 - x1 * y0
        area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(area) < 1e-12:
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        return 0.0, sum(xs) / len(xs), sum(ys) / len(ys)
    return abs(area) / 2, cx / (3 * area), cy / (3 * area)


@cache
def country_centroids() -> dict[str, tuple[float, float]]:
    """ISO alpha-2 to (lon, lat): the centroid of the country's largest polygon."""
    out: dict[str, tuple[float, float]] = {}
    for feature in countries_geojson()["features"]:
        code = feature["properties"].get("iso_a2") or ""
        geometry = feature.get("geometry")
        if not code or not geometry:
            continue
        polygons = (geometry["coordinates"] if geometry["type"] == "MultiPolygon"
                    else [geometry["coordinates"]])
        best = max((_ring_centroid(p[0]) for p in polygons if p and len(p[0]) > 2),
                   default=None)
        if best is not None:
            out[code] = (round(best[1], 2), round(best[2], 2))
    return out


@cache
def describe_prefix(number: str) -> tuple[str, str]:
    """(ISO alpha-2 country, region) of one E.164 number; ``""`` where unknown."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return "", ""
    country = phonenumbers.region_code_for_number(parsed) or ""
    if country in ("ZZ", "001"):
        country = ""
    place = geocoder.description_for_number(parsed, "en")
    country_name = geocoder.country_name_for_number(parsed, "en")
    region = place.rsplit(",", 1)[-1].strip() if place and place != country_name else ""
    return country, region


def map_data(data: CaseData, *, network_id: str | None = None) -> dict[str, Any]:
    """Countries (GeoJSON, with ``centers`` and ``victims`` counts), centers and regions.

    Returns ``{"countries": FeatureCollection, "centers": [...], "regions": [...],
    "totals": {"centers", "victims", "victims_unplaced"}}``; a center or region carries
    ``lon``/``lat`` (its country's centroid) when its country is on the map.
    """
    where = "" if network_id is None else "WHERE network_id = ?"
    params: list[Any] = [] if network_id is None else [network_id]
    with data.cursor() as cur:
        centers = cur.execute(
            f"""SELECT center_id, coalesce(network_id, ''), upper(coalesce(country, '')),
                       coalesce(region, ''), coalesce(TRY_CAST(victims AS BIGINT), 0),
                       coalesce(TRY_CAST(calls AS BIGINT), 0)
                FROM centers {where} ORDER BY center_id""",
            params,
        ).fetchall()
        v_where = "kind = ?" + ("" if network_id is None else " AND network_id = ?")
        prefixes = cur.execute(
            f"""SELECT left(value, {PREFIX_DIGITS + 1}) AS prefix, min(value), count(*)
                FROM (SELECT DISTINCT value FROM entities WHERE {v_where})
                WHERE starts_with(value, '+') GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT ?""",
            [VICTIM_KIND, *params, MAX_PREFIXES],
        ).fetchall()
        total_victims = int(cur.execute(
            f"SELECT count(DISTINCT value) FROM entities WHERE {v_where}", [VICTIM_KIND, *params]
        ).fetchall()[0][0])
    centroids = country_centroids()
    by_country: dict[str, dict[str, int]] = {}
    by_region: dict[tuple[str, str], dict[str, int]] = {}

    def tally(country: str, region: str, what: str, n: int) -> None:
        by_country.setdefault(country, {"centers": 0, "victims": 0})[what] += n
        if region:
            by_region.setdefault((country, region), {"centers": 0, "victims": 0})[what] += n

    placed = 0
    for _prefix, sample, n in prefixes:
        country, region = describe_prefix(sample)
        if country:
            tally(country, region, "victims", int(n))
            placed += int(n)
    center_rows = []
    for center_id, nid, country, region, victims, calls in centers:
        if country:
            tally(country, region, "centers", 1)
        lon_lat = centroids.get(country)
        center_rows.append({
            "center_id": center_id, "network_id": nid, "country": country, "region": region,
            "victims": int(victims), "calls": int(calls),
            "lon": lon_lat[0] if lon_lat else None, "lat": lon_lat[1] if lon_lat else None,
        })  # fmt: skip
    features = []
    for feature in countries_geojson()["features"]:
        code = feature["properties"].get("iso_a2") or ""
        counts = by_country.get(code, {"centers": 0, "victims": 0})
        features.append({
            "type": "Feature",
            "id": feature.get("id"),
            "properties": {**feature["properties"], **counts},
            "geometry": feature.get("geometry"),
        })
    regions = [
        {"country": c, "region": r, **counts,
         "lon": centroids[c][0] if c in centroids else None,
         "lat": centroids[c][1] if c in centroids else None}
        for (c, r), counts in sorted(by_region.items(),
                                     key=lambda kv: (-kv[1]["victims"], -kv[1]["centers"], kv[0]))
    ]  # fmt: skip
    return {
        "countries": {"type": "FeatureCollection", "features": features},
        "by_country": [{"country": c, **counts} for c, counts in sorted(by_country.items())],
        "centers": center_rows,
        "regions": regions,
        "totals": {"centers": len(center_rows), "victims": total_victims,
                   "victims_unplaced": total_victims - placed},
    }
