"""Re-vendor the workspace's JavaScript libraries and map data from the npm registry.

Runs ``npm ci`` on ``scripts/js/package.json`` + ``package-lock.json`` in a temporary folder
(the lockfile pins every version and its integrity hash), then copies into
``scamtrace/workspace/static/vendor/``:

- ``cytoscape.min.js`` (cytoscape, MIT): draws the network graph;
- ``countries-110m.geojson``: world-atlas' Natural Earth 1:110m countries (ISC; the data is
  public domain), turned from TopoJSON into GeoJSON here with topojson-client (ISC), each
  country given its ISO 3166 alpha-2 code (``iso_a2``, from i18n-iso-countries, MIT) and its
  coordinates rounded to 0.01 degree to keep the file small;
- each package's licence text, and ``README.md`` listing file, package, version and licence.

Nothing is fetched at run time: the workspace serves these files from the package.

Usage: ``python scripts/vendor_js.py`` (needs node and npm on PATH).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "scripts" / "js"
VENDOR = ROOT / "scamtrace" / "workspace" / "static" / "vendor"

#: node script: TopoJSON countries to GeoJSON with ISO alpha-2 codes and rounded coordinates.
CONVERT = r"""
const fs = require("fs");
const topojson = require("topojson-client");
const countries = require("i18n-iso-countries");
const topo = JSON.parse(fs.readFileSync("node_modules/world-atlas/countries-110m.json", "utf8"));
const fc = topojson.feature(topo, topo.objects.countries);
const round = (c) => Array.isArray(c[0]) ? c.map(round) : c.map((x) => Math.round(x * 100) / 100);
fc.features = fc.features.map((f) => ({
  type: "Feature",
  id: f.id === undefined ? null : String(f.id),
  properties: {
    name: f.properties.name,
    iso_a2: f.id === undefined ? "" : (countries.numericToAlpha2(String(f.id)) || ""),
  },
  geometry: f.geometry && { type: f.geometry.type, coordinates: round(f.geometry.coordinates) },
}));
fs.writeFileSync(process.argv[process.argv.length - 1], JSON.stringify(fc));
"""

#: (vendored file, package, how it is made)
FILES = (
    ("cytoscape.min.js", "cytoscape", "dist/cytoscape.min.js"),
    ("countries-110m.geojson", "world-atlas",
     "countries-110m.json converted with topojson-client; iso_a2 from i18n-iso-countries"),
)
LICENCE_FILES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "license", "LICENCE")


def _licence(package_dir: Path) -> Path | None:
    for name in LICENCE_FILES:
        if (package_dir / name).is_file():
            return package_dir / name
    return None


def main() -> int:
    if shutil.which("npm") is None or shutil.which("node") is None:
        print("vendor_js: node and npm are needed on PATH", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="scamtrace-vendor-") as tmp:
        work = Path(tmp)
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(SOURCES / name, work / name)
        subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=work,
                       check=True)
        VENDOR.mkdir(parents=True, exist_ok=True)
        modules = work / "node_modules"
        shutil.copy2(modules / "cytoscape" / "dist" / "cytoscape.min.js",
                     VENDOR / "cytoscape.min.js")
        subprocess.run(["node", "-e", CONVERT, str(VENDOR / "countries-110m.geojson")],
                       cwd=work, check=True)
        rows = []
        packages = ("cytoscape", "world-atlas", "topojson-client", "i18n-iso-countries")
        for package in packages:
            meta = json.loads((modules / package / "package.json").read_text(encoding="utf-8"))
            licence = _licence(modules / package)
            licence_name = f"LICENSE.{package}.txt"
            if licence is not None:
                shutil.copy2(licence, VENDOR / licence_name)
            rows.append((package, meta["version"], meta.get("license", "?"), licence_name))
    lines = [
        "# Vendored JavaScript and map data",
        "",
        "Made by `scripts/vendor_js.py` from `scripts/js/package.json` and its lockfile; do not",
        "edit by hand. Served by the workspace from the package: nothing is loaded from the",
        "internet.",
        "",
        "| file | package | version | licence | made from |",
        "| --- | --- | --- | --- | --- |",
    ]
    versions = {p: (v, lic) for p, v, lic, _ in rows}
    for file, package, how in FILES:
        version, lic = versions[package]
        lines.append(f"| `{file}` | {package} | {version} | {lic} | {how} |")
    lines += ["", "Used at vendoring time only (their output is in the files above):", ""]
    for package, version, lic, _ in rows:
        if package in ("topojson-client", "i18n-iso-countries"):
            lines.append(f"- {package} {version} ({lic})")
    lines += [
        "",
        "The country boundaries are Natural Earth's 1:110m admin-0 countries (public domain), as",
        "packaged by world-atlas. Boundaries below the country (provinces, cities) are not",
        "shipped: the map draws a region's victims and centers as a point on its country and",
        "lists the regions in a table.",
        "",
        "Licence texts: " + ", ".join(f"`{name}`" for *_, name in rows) + ".",
        "",
    ]
    (VENDOR / "README.md").write_text("\n".join(lines), encoding="utf-8")
    for file in sorted(VENDOR.iterdir()):
        print(f"{file.stat().st_size:>10,}  {file.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
