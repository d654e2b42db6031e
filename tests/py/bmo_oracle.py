"""Independent oracle for `terriens import-bmo`: recomputes, with the plain csv module, the BMO
figures of every commune of an EPCI from the raw files.

usage: bmo_oracle.py BMO.csv.gz BASSINS.csv COG.csv EPCI_SIREN

For each member commune (COG rows with epci_siren == EPCI_SIREN) prints, as JSON:
  {insee: {"bassin": code, "bassin_name": name, "share": pop / bassin_pop,
           "met": {occupation: value × share}, "xmet": {...}, "smet": {...},
           "masked": {"met": [codes], "xmet": [...], "smet": [...]}}}
where bassin_pop is the sum of population_municipale over ALL the COG communes of the bassin
(those with a population),
and a `*` (or empty) value is masked: listed in "masked", never counted as 0. A bassin across
départements has one row per part: the parts are summed (masked if one part is).
"""
import csv
import gzip
import io
import json
import sys


def open_text(path):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return io.StringIO(raw.decode("utf-8-sig"))


def main(bmo_path, bassins_path, cog_path, siren):
    cog = list(csv.DictReader(open_text(cog_path)))
    bassin_of = {}
    for r in csv.DictReader(open_text(bassins_path)):
        bassin_of[r["code_commune_insee"]] = (r["code_bassin_BMO"], r["lib_bassin_BMO"])
    bassin_pop = {}
    for r in cog:
        b = bassin_of.get(r["code_insee"])
        # Population unknown (`\\N` in the COG file): the commune adds nothing.
        if b and r["population_municipale"].isdigit():
            bassin_pop[b[0]] = bassin_pop.get(b[0], 0) + int(r["population_municipale"])
    # bassin -> occupation -> {col: value or None}; a bassin across départements has one row
    # per département part: summed, masked if any part is masked.
    rows = {}
    for r in csv.DictReader(open_text(bmo_path)):
        occ = rows.setdefault(r["BE24"], {}).setdefault(r["Code métier BMO"], {})
        for col in ("met", "xmet", "smet"):
            v = r[col].strip()
            v = None if v in ("*", "") else float(v)
            if col not in occ:
                occ[col] = v
            elif occ[col] is None or v is None:
                occ[col] = None
            else:
                occ[col] += v
    out = {}
    for r in cog:
        if r["epci_siren"] != siren:
            continue
        code = r["code_insee"]
        bassin, name = bassin_of[code]
        share = int(r["population_municipale"]) / bassin_pop[bassin]
        entry = {"bassin": bassin, "bassin_name": name, "share": share,
                 "met": {}, "xmet": {}, "smet": {},
                 "masked": {"met": [], "xmet": [], "smet": []}}
        for occ, figures in rows.get(bassin, {}).items():
            for col in ("met", "xmet", "smet"):
                v = figures[col]
                if v is None:
                    entry["masked"][col].append(occ)
                else:
                    entry[col][occ] = v * share
        for col in ("met", "xmet", "smet"):
            entry["masked"][col].sort()
        out[code] = entry
    json.dump(out, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
