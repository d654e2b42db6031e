"""Independent oracle of filters on source attributes: plain Python over the raw GeoJSON.

Usage: extras_filter.py FILE.geojson ID_PROPERTY CONDITION...
where CONDITION is NAME=V1,V2 (text, one of), NAME>=X or NAME<=X (numbers).
Prints the sorted ID_PROPERTY values of the features meeting every condition, as JSON.
"""
import json
import sys


def number(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    return None


def keep(props, cond):
    if ">=" in cond:
        name, x = cond.split(">=", 1)
        v = number(props.get(name))
        return v is not None and v >= float(x)
    if "<=" in cond:
        name, x = cond.split("<=", 1)
        v = number(props.get(name))
        return v is not None and v <= float(x)
    name, values = cond.split("=", 1)
    v = props.get(name)
    return isinstance(v, str) and v in values.split(",")


def main():
    path, id_prop, conds = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    ids = sorted(
        str(feat["properties"][id_prop])
        for feat in doc["features"]
        if all(keep(feat["properties"], c) for c in conds)
    )
    print(json.dumps(ids))


main()
