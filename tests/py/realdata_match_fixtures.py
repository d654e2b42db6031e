"""Raw sites and deposits of a real-data territory, in the form match_oracle.py reads
(FIXTURES/{plots,buildings,waste_deposits}.geojson), made from the national open data files with
plain Python, not terriens' importer.

usage: realdata_match_fixtures.py REALDATA_DIR IDS.json OUT_DIR

IDS.json: {"plots": [...], "waste_deposits": [...]}, the ids of the features the territory
holds (which rows a territory build keeps is checked apart, by the diagnostic oracle).

- plots: Cartofriches rows (national CSV), id = the server's id of a text source id
  (64-bit FNV-1a of `site_id`, folded to 53 bits), a point at Long/Lat with the declared area
  site_surface (m²) / 10,000 ha;
- waste deposits: IREP establishments (national CSV) by `identifiant_irep`, characterised by
  the rule the test applies through the editing API (`characterise` below): a material, a
  tonnage a year and a confidentiality mark per id.
"""
import csv
import gzip
import io
import json
import sys

MATERIALS = ["wood", "plastic", "metal", "organic", "paper_cardboard"]


def characterise(i):
    """The test's rule: material, tonnes a year, confidentiality of IREP holder `i`."""
    return MATERIALS[i % len(MATERIALS)], float(50 + (i * 37) % 5000), ("partners" if i % 7 == 0 else "public")


def string_id(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001B3) % (1 << 64)
    return (h ^ (h >> 53)) & ((1 << 53) - 1)


def opentext(path):
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8")
    return open(path, encoding="utf-8")


def main(d, ids_path, out):
    ids = json.load(open(ids_path))
    want_plots, want_deposits = set(ids["plots"]), set(ids["waste_deposits"])
    plots = []
    for r in csv.DictReader(opentext(f"{d}/cartofriches_france_2023-10-02.csv.gz")):
        i = string_id(r["site_id"].strip())
        if i not in want_plots:
            continue
        props = {"source_id": r["site_id"]}
        if r["site_surface"].strip():
            props["declared_area_ha"] = float(r["site_surface"]) / 1e4
        plots.append({"type": "Feature", "id": i, "properties": props,
                      "geometry": {"type": "Point", "coordinates": [float(r["Long"]), float(r["Lat"])]}})
    deposits = []
    for r in csv.DictReader(opentext(f"{d}/irep_2021_etablissements_france.csv")):
        i = int(r["identifiant_irep"])
        if i not in want_deposits:
            continue
        material, tonnes, conf = characterise(i)
        deposits.append({"type": "Feature", "id": i,
                         "properties": {"name": r["nom_etablissement"], "material": material,
                                        "quantity": tonnes, "unit": "t", "confidentiality": conf},
                         "geometry": {"type": "Point", "coordinates": [float(r["longitude"]), float(r["latitude"])]}})
    for name, feats in [("plots", plots), ("buildings", []), ("waste_deposits", deposits)]:
        with open(f"{out}/{name}.geojson", "w") as f:
            json.dump({"type": "FeatureCollection", "features": feats}, f)
    missing = {"plots": len(want_plots) - len(plots), "waste_deposits": len(want_deposits) - len(deposits)}
    print(json.dumps({"plots": len(plots), "waste_deposits": len(deposits), "not_found": missing}))
    if any(missing.values()):
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
