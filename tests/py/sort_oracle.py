"""The order OGC `sortby` must give, computed here in plain Python from the features.

Reads a JSON document {"features": [...], "keys": [[name, desc], ...]} on stdin-like argv[1]
and prints the feature ids, one a line, in the order: each key's values compared (numbers as
numbers, text by code point, dates as ISO text, false before true), descending where asked,
features without a value for a key after those with one whatever the direction; ties by id.
"""
import functools
import json
import sys


def main():
    doc = json.load(open(sys.argv[1]))
    keys = doc["keys"]

    def cmp(a, b):
        for name, desc in keys:
            va = a["properties"].get(name)
            vb = b["properties"].get(name)
            if va is None and vb is None:
                continue
            if va is None:
                return 1
            if vb is None:
                return -1
            if va == vb:
                continue
            o = -1 if va < vb else 1
            return -o if desc else o
        return (a["id"] > b["id"]) - (a["id"] < b["id"])

    for f in sorted(doc["features"], key=functools.cmp_to_key(cmp)):
        print(f["id"])


main()
