"""Decodes every .mvt file of a folder with the independent `mapbox-vector-tile` package and
checks every polygon feature with GEOS (shapely), in tile coordinates (y down), as decoded:
the decoder groups rings into polygons by their winding (MVT 2.1: exteriors clockwise on
screen), so a ring of the wrong winding shows up as an overlapping part, hence invalid.

Usage: validate_mvt.py DIR
Prints one JSON object: {"tiles": n, "features": polygon features checked, "polygons":
polygon parts, "invalid": [{"tile", "layer", "id", "reason", "wkt"}] (at most 20 with WKT)}."""
import json
import pathlib
import sys

import mapbox_vector_tile
import shapely
from shapely.geometry import shape

out = {"tiles": 0, "features": 0, "polygons": 0, "invalid": []}
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.mvt")):
    out["tiles"] += 1
    tile = mapbox_vector_tile.decode(path.read_bytes(), default_options={"y_coord_down": True})
    for name, layer in tile.items():
        for f in layer["features"]:
            geom = f["geometry"]
            if geom["type"] not in ("Polygon", "MultiPolygon"):
                continue
            g = shape(geom)
            out["features"] += 1
            out["polygons"] += len(getattr(g, "geoms", [g]))
            if not shapely.is_valid(g):
                bad = {"tile": path.name, "layer": name, "id": f.get("id"),
                       "reason": shapely.is_valid_reason(g)}
                if len(out["invalid"]) < 20:
                    bad["wkt"] = g.wkt[:2000]
                out["invalid"].append(bad)
json.dump(out, sys.stdout)
