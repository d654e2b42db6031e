"""QGIS's OGC API - Features provider (OAPIF) against a running terriens, headless.

Not run by the test suite (python3-qgis is a large install): run it by hand with

    apt-get install python3-qgis xvfb
    terriens serve &                      # http://127.0.0.1:8080
    xvfb-run -a python3 tests/py/qgis_check.py http://127.0.0.1:8080/ogc

For each collection it opens the layer as QGIS does, compares its feature count with the API's
numberMatched, then sets a subset string (QGIS sends it to the server as a CQL2 `filter` when
/conformance declares the Part 3 classes) and compares again. Exits non-zero on a mismatch.
"""
import json
import sys
import urllib.parse
import urllib.request

from qgis.core import QgsApplication, QgsVectorLayer

BASE = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8080/ogc"
CHECKS = {
    "plots": ("status = 'available'", "status=available"),
    "buildings": ("tenure = 'lease'", "tenure=lease"),
    "waste_deposits": ("material = 'wood'", "material=wood"),
    "catchments": (None, None),
    "territories": (None, None),
}


def matched(layer, query=""):
    url = f"{BASE}/collections/{layer}/items?limit=1&{query}"
    with urllib.request.urlopen(url) as r:
        return json.load(r)["numberMatched"]


def main():
    app = QgsApplication([], False)
    app.initQgis()
    failures = 0
    for layer, (subset, grammar) in CHECKS.items():
        uri = f"url='{BASE}' typename='{layer}'"
        vl = QgsVectorLayer(uri, layer, "OAPIF")
        if not vl.isValid():
            print(f"{layer}: QGIS cannot open it")
            failures += 1
            continue
        n, want = vl.featureCount(), matched(layer)
        print(f"{layer}: QGIS {n}, API {want}, geometry {vl.wkbType()}")
        failures += n != want
        if subset:
            vl.setSubsetString(subset)
            n = sum(1 for _ in vl.getFeatures())
            want = matched(layer, grammar)
            print(f"{layer} [{subset}]: QGIS {n}, API {want}")
            failures += n != want
    app.exitQgis()
    sys.exit(1 if failures else 0)


main()
