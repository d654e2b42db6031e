"""Independent oracle of the territory diagnostic: recomputes its figures from the raw open
data files with plain Python (csv, json) and shapely, without terriens' importer.

usage: diagnostic_oracle.py REALDATA_DIR SIREN  → prints a JSON document of expected figures.

Rules (those the diagnostic documents):
- members: the communes of the COG table whose epci_siren is SIREN;
- land: Cartofriches rows (national CSV) whose comm_insee is a member; hectares = site_surface
  (m²) / 10,000; size classes [0,1) [1,5) [5,20) [20,50) [50,∞) ha; breakdowns by site_type and
  site_statut (empty → "unknown");
- waste holders: IREP establishments (national CSV) inside a member commune's polygon (the
  commune polygons file; point in polygon with shapely); holders = distinct names, lower-cased;
- workforce (BMO): for each bassin of a member commune, the bassin's met/xmet/smet per
  occupation times the share of the bassin's population living in member communes
  (population of the COG table; the commune → bassin table). Masked values ("*") are unknown:
  an occupation whose figure is masked in a contributing bassin is reported as masked.
"""
import csv
import gzip
import io
import json
import sys
from collections import defaultdict

from shapely.geometry import Point, shape
from shapely.prepared import prep

SIZE = [(0, 1, "< 1 ha"), (1, 5, "1–5 ha"), (5, 20, "5–20 ha"), (20, 50, "20–50 ha"), (50, float("inf"), "≥ 50 ha")]


def opentext(path):
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8")
    return open(path, encoding="utf-8")


def pop(row):
    """The population of a COG row; "\\N" (unknown) counts as none."""
    try:
        return int(float(row["population_municipale"]))
    except (ValueError, TypeError):
        return 0


def main(d, siren):
    cog = {r["code_insee"]: r for r in csv.DictReader(opentext(f"{d}/communes_france_cog2021_attributs.csv"))}
    members = {c for c, r in cog.items() if r["epci_siren"] == siren}
    out = {"members": len(members), "population": sum(pop(cog[c]) for c in members)}

    # Land.
    count, ha = 0, 0.0
    size = [[0, 0.0] for _ in SIZE]
    by = {"site_type": defaultdict(lambda: [0, 0.0]), "site_statut": defaultdict(lambda: [0, 0.0])}
    soil = [0, 0.0]  # known or suspected soil pollution (sol_pollution_existe)
    for r in csv.DictReader(opentext(f"{d}/cartofriches_france_2023-10-02.csv.gz")):
        if r["comm_insee"] not in members:
            continue
        a = float(r["site_surface"]) / 1e4
        count += 1
        ha += a
        for i, (lo, hi, _) in enumerate(SIZE):
            if lo <= a < hi:
                size[i][0] += 1
                size[i][1] += a
        if r["sol_pollution_existe"].strip() in ("pollution avérée", "pollution supposée"):
            soil[0] += 1
            soil[1] += a
        for k in by:
            v = (r[k] or "").strip() or "unknown"
            by[k][v][0] += 1
            by[k][v][1] += a
    out["land"] = {
        "count": count,
        "area_ha": ha,
        "by_size_class": {SIZE[i][2]: size[i] for i in range(len(SIZE))},
        "by_source_attribute": {k: dict(v) for k, v in by.items()},
        "soil_pollution": soil,
    }

    # Waste holders: IREP inside the member communes' polygons.
    polys = []
    with open(f"{d}/communes_76_seine-maritime_wgs84.geojson", encoding="utf-8") as f:
        for feat in json.load(f)["features"]:
            if feat["properties"]["code_insee"] in members:
                polys.append(prep(shape(feat["geometry"])))
    names, n = set(), 0
    if polys:
        for r in csv.DictReader(opentext(f"{d}/irep_2021_etablissements_france.csv")):
            p = Point(float(r["longitude"]), float(r["latitude"]))
            if any(poly.intersects(p) for poly in polys):
                n += 1
                names.add(r["nom_etablissement"].strip().lower())
    out["waste"] = {"deposits": n, "holders": len(names), "placed": bool(polys)}

    # Workforce: BMO by bassin, spread by population.
    bassin_of = {}
    for r in csv.DictReader(opentext(f"{d}/bmo_bassin_emploi_communes.csv")):
        bassin_of[r["code_commune_insee"]] = r["code_bassin_BMO"]
    bassin_pop = defaultdict(float)
    member_pop = defaultdict(float)
    for c, b in bassin_of.items():
        p = float(pop(cog[c])) if c in cog else 0.0
        bassin_pop[b] += p
        if c in members:
            member_pop[b] += p
    shares = {b: member_pop[b] / bassin_pop[b] for b in member_pop if bassin_pop[b] > 0}
    occ = defaultdict(lambda: {"met": 0.0, "xmet": 0.0, "smet": 0.0, "masked": {"met": False, "xmet": False, "smet": False}})
    labels = {}
    for r in csv.DictReader(opentext(f"{d}/bmo_2024_france_travail_bassins.csv.gz")):
        b = r["BE24"]
        if b not in shares:
            continue
        code = r["Code métier BMO"]
        labels[code] = r["Nom métier BMO"]
        o = occ[code]
        for k in ("met", "xmet", "smet"):
            v = (r[k] or "").strip()
            if v in ("*", ""):
                o["masked"][k] = True
            else:
                o[k] += float(v) * shares[b]
    out["workforce"] = {
        "bassins": {b: s for b, s in shares.items()},
        "occupations": {c: {**v, "label": labels[c]} for c, v in occ.items()},
    }
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
