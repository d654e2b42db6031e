"""Independent oracle for road coverage: the share of each commune's geodesic area inside the
convex hull of the road graph's nodes, with shapely and pyproj.

usage: coverage_oracle.py NODES.json COMMUNES.geojson CODE...

NODES.json is a list of [lon, lat]. COMMUNES.geojson may be in Lambert-93 (it then declares
EPSG:2154) or WGS84. Prints {code: share} as JSON.
"""
import json
import sys

from pyproj import Geod, Transformer
from shapely.geometry import MultiPoint, shape
from shapely.ops import transform


def main(nodes_path, communes_path, codes):
    hull = MultiPoint(json.load(open(nodes_path))).convex_hull
    fc = json.load(open(communes_path))
    crs = json.dumps(fc.get("crs", {}))
    to_wgs = None
    if "2154" in crs:
        to_wgs = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True).transform
    geod = Geod(ellps="WGS84")
    out = {}
    for f in fc["features"]:
        code = f["properties"]["code_insee"]
        if code not in codes:
            continue
        g = shape(f["geometry"])
        if to_wgs:
            g = transform(to_wgs, g)
        total = abs(geod.geometry_area_perimeter(g)[0])
        inside = g.intersection(hull)
        covered = abs(geod.geometry_area_perimeter(inside)[0]) if not inside.is_empty else 0.0
        out[code] = covered / total
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], set(sys.argv[3:]))
