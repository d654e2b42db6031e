"""Oracle for tests/ogc_gdal.rs: the same features in CRS84 and in an EPSG CRS (the server's
`crs=` answer); transforms every CRS84 position with pyproj (authority axis order, as OGC API -
Features Part 2 asks: latitude first for EPSG:4326) and prints the number of positions compared
and the largest distance in metres between pyproj's position and the server's.

usage: crs_check.py crs84.json projected.json EPSG:NNNN
"""
import json
import math
import sys

from pyproj import CRS, Transformer


def positions(c, out):
    if isinstance(c, list) and len(c) >= 2 and all(isinstance(x, (int, float)) for x in c[:2]):
        out.append((float(c[0]), float(c[1])))
    elif isinstance(c, list):
        for x in c:
            positions(x, out)


def main():
    base = json.load(open(sys.argv[1]))
    proj = json.load(open(sys.argv[2]))
    target = CRS.from_user_input(sys.argv[3])
    t = Transformer.from_crs("OGC:CRS84", target, always_xy=False)
    geographic = target.is_geographic
    by_id = {f["id"]: f for f in proj["features"]}
    assert set(by_id) == {f["id"] for f in base["features"]}, "not the same features"
    n, worst = 0, 0.0
    for f in base["features"]:
        a, b = [], []
        positions(f["geometry"]["coordinates"], a)
        positions(by_id[f["id"]]["geometry"]["coordinates"], b)
        assert len(a) == len(b), f"feature {f['id']}: {len(a)} vs {len(b)} positions"
        for (lon, lat), (x, y) in zip(a, b):
            ex, ey = t.transform(lon, lat)
            if geographic:
                # degrees of latitude, longitude to metres
                d = math.hypot((ex - x) * 111_320.0, (ey - y) * 111_320.0 * math.cos(math.radians(ex)))
            else:
                d = math.hypot(ex - x, ey - y)
            worst = max(worst, d)
            n += 1
    print(n, worst)


main()
