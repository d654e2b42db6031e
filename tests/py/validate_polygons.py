"""Checks polygons with GEOS (shapely), the independent validity engine.

Usage: validate_polygons.py FILE.json
FILE holds a JSON list of {"name": str, "geometry": GeoJSON Polygon or MultiPolygon}.
Prints one JSON object: {"checked": number of geometries, "polygons": number of polygon
parts, "empty": names of empty geometries, "invalid": [{"name", "reason"}]}."""
import json
import sys

import shapely
from shapely.geometry import shape

items = json.load(open(sys.argv[1]))
out = {"checked": 0, "polygons": 0, "empty": [], "invalid": []}
for item in items:
    g = shape(item["geometry"])
    out["checked"] += 1
    if g.is_empty:
        out["empty"].append(item["name"])
        continue
    out["polygons"] += len(getattr(g, "geoms", [g]))
    if not shapely.is_valid(g):
        out["invalid"].append({"name": item["name"], "reason": shapely.is_valid_reason(g)})
json.dump(out, sys.stdout)
