#!/usr/bin/env python3
"""Independent oracle for POST /match (run by tests/matching.rs).

Recomputes, from the raw fixture files (fixtures/*.geojson: attributes as written, areas with
GeographicLib on the WGS84 ellipsoid) and from a road graph exported by the test (networkx's
Dijkstra), every hard constraint, the land and material criteria, the totals and the ranking
of every project, and compares them with the server's answers.

DIR holds:
  segments_<profile>.tsv   a  b  w_ab_ms  w_ba_ms  length_m  (w = -1: closed)
  snaps_<profile>.tsv      layer  id  seg  frac              (each feature's road position)
  projects.json            the needs sent
  answers.json             the server's answers (explain=all, limit=200, English)
FIXTURES is the fixtures folder, FACTORS the impact factor table (factors/impact_factors.csv).
Prints a JSON summary; exits 1 on any disagreement.

The impact of every material of every listed site is recomputed too: the reachable deposits
taken nearest by road first until the need is met, each route's length along networkx's
fastest path (segment lengths of the export), tonne-kilometres, and the emissions and tax
from the factor table read here.

The workforce criterion follows the /workforce rules (street shares of catchments), checked by
the test against /workforce itself; here its scores are taken from the answer to recompute the
totals and the ranking.
"""

import csv
import json
import sys
from collections import defaultdict

import networkx as nx
from geographiclib.geodesic import Geodesic

CONSTRAINTS = ["flood_zone", "seveso", "natura2000", "soil_pollution"]
TOL_S = 1.0


def load_layer(fixtures, name):
    with open(f"{fixtures}/{name}.geojson") as f:
        return {int(ft["id"]): ft for ft in json.load(f)["features"]}


def ring_area_m2(ring):
    poly = Geodesic.WGS84.Polygon()
    for lon, lat in ring[:-1]:
        poly.AddPoint(lat, lon)
    _, _, area = poly.Compute(False, True)
    return abs(area)


def area_ha(ft):
    g = ft["geometry"]
    if g["type"] == "Polygon":
        polys = [g["coordinates"]]
    elif g["type"] == "MultiPolygon":
        polys = g["coordinates"]
    else:
        return ft["properties"].get("declared_area_ha")
    total = 0.0
    for p in polys:
        total += ring_area_m2(p[0]) - sum(ring_area_m2(h) for h in p[1:])
    return total / 1e4


def graph(d, profile):
    rev = nx.DiGraph()
    segs = []
    with open(f"{d}/segments_{profile}.tsv") as f:
        for line in f:
            cols = line.split()
            a, b, wab, wba = (int(x) for x in cols[:4])
            length = float(cols[4])
            segs.append((a, b, wab, wba, length))
            # Reverse edges: a search from the site over them gives times *to* the site.
            if wab >= 0:
                add_min(rev, b, a, wab, length)
            if wba >= 0:
                add_min(rev, a, b, wba, length)
    snaps = {}
    with open(f"{d}/snaps_{profile}.tsv") as f:
        for line in f:
            layer, i, seg, frac = line.split()
            snaps[(layer, int(i))] = (int(seg), float(frac))
    return rev, segs, snaps


def add_min(g, u, v, w, length):
    if not g.has_edge(u, v) or w < g[u][v]["w"]:
        g.add_edge(u, v, w=w, m=length)


def times_to(net, site, limit_ms):
    """(ms, road metres) from every deposit snap to the site snap, within limit_ms (ms labels
    as floats; metres along networkx's fastest path)."""
    rev, segs, snaps = net
    seg, f = site
    a, b, wab, wba, lab = segs[seg]
    src = {}
    # Arrive at the site from a along a->b, or from b along b->a.
    if wab >= 0:
        src[a] = min(src.get(a, (1e18, 0)), (round(wab * f), f * lab))
    if wba >= 0:
        src[b] = min(src.get(b, (1e18, 0)), (round(wba * (1 - f)), (1 - f) * lab))
    rev.add_node("S")
    for n, (w, m) in src.items():
        rev.add_edge("S", n, w=w, m=m)
    dist, paths = nx.single_source_dijkstra(rev, "S", cutoff=limit_ms, weight="w")
    rev.remove_node("S")

    def metres(n):
        p = paths[n]
        return sum(src[p[1]][1] if u == "S" else rev[u][v]["m"] for u, v in zip(p, p[1:]))

    def at(p):
        s2, g2 = p
        c, d2, wcd, wdc, lcd = segs[s2]
        best = (float("inf"), None)
        # Leave the deposit towards d along c->d, or towards c along d->c.
        if wcd >= 0 and d2 in dist:
            best = min(best, (dist[d2] + (1 - g2) * wcd, ("via", d2, (1 - g2) * lcd)))
        if wdc >= 0 and c in dist:
            best = min(best, (dist[c] + g2 * wdc, ("via", c, g2 * lcd)))
        if s2 == seg:
            if f >= g2 and wab >= 0:
                best = min(best, ((f - g2) * wab, ("direct", None, (f - g2) * lab)))
            if f < g2 and wba >= 0:
                best = min(best, ((g2 - f) * wba, ("direct", None, (g2 - f) * lab)))
        t, how = best
        if how is None:
            return t, None
        kind, n, m = how
        return t, (m + metres(n) if kind == "via" else m)

    return at


def read_factors(path):
    with open(path, newline="") as f:
        return {r["key"]: float(r["value"]) for r in csv.DictReader(f)}


def check_impact(k, layer, i, m, reach, c_impact, factors, errors, checked):
    """Suppliers nearest first until the need is met; km, t.km, emissions, tax."""
    reach.sort(key=lambda r: (r[0], r[1]))
    need = m["tonnes_per_year"]
    chosen, left = [], need
    for t, j, q, metres in reach:
        if left <= 0:
            break
        if q <= 0:
            continue
        take = min(q, left)
        left -= take
        chosen.append((j, take, metres, t))
    # Suppliers within a second of one another may come in either order: not compared.
    cut = len(chosen)
    times = [r[0] for r in reach[: cut + 1]]
    if any(abs(x - y) <= TOL_S * 1000 for x, y in zip(times, times[1:])):
        checked["impact_borderline"] = checked.get("impact_borderline", 0) + 1
        return
    checked["impacts"] = checked.get("impacts", 0) + 1
    have = [(int(s["id"]), s["tonnes"]) for s in c_impact["suppliers"]]
    want = [(j, take) for j, take, _, _ in chosen]
    if [h[0] for h in have] != [w[0] for w in want] or any(abs(a[1] - b[1]) > 1e-6 for a, b in zip(have, want)):
        errors.append(f"project {k}: {layer}/{i} {m['material']}: suppliers {want}, server says {have}")
        return
    tkm = 0.0
    for (j, take, metres, _), s in zip(chosen, c_impact["suppliers"]):
        # Equal-time paths may differ in length: 1 % or 20 m.
        km = metres / 1000
        if s["road_km"] is None or abs(s["road_km"] - km) > max(0.02, 0.01 * km):
            errors.append(f"project {k}: {layer}/{i} deposit {j}: {km:.3f} road km, server says {s['road_km']}")
        tkm += take * km
    supplied = sum(t for _, t, _, _ in chosen)
    prof = m.get("profile", "hgv")
    expect = {
        "tkm": tkm,
        "transport_kgco2e": tkm * factors[f"transport.{prof}"] if f"transport.{prof}" in factors else None,
        "avoided_kgco2e": supplied * factors[f"substitution.{m['material']}"] if f"substitution.{m['material']}" in factors else None,
        "tax_saved_eur": supplied * factors["disposal_tax.landfill"] if "disposal_tax.landfill" in factors else None,
    }
    expect["net_kgco2e"] = (
        expect["avoided_kgco2e"] - expect["transport_kgco2e"]
        if expect["avoided_kgco2e"] is not None and expect["transport_kgco2e"] is not None else None
    )
    if abs(c_impact["supplied_t"] - supplied) > 1e-6 or abs(c_impact["disposal_avoided_t"] - supplied) > 1e-6:
        errors.append(f"project {k}: {layer}/{i} {m['material']}: {supplied} t supplied, server says {c_impact['supplied_t']}")
    for key, v in expect.items():
        got = c_impact[key]
        if (v is None) != (got is None) or (v is not None and abs(got - v) > max(0.2, 0.011 * abs(v))):
            errors.append(f"project {k}: {layer}/{i} {m['material']}: {key} {v}, server says {got}")


def site_checks(layer, ft, needs):
    p = ft["properties"]
    fails = []
    st = needs.get("site_type", "any")
    if st == "plot" and layer != "plots" or st == "building" and layer != "buildings":
        fails.append("site_type")
    if p.get("status") not in (None, "available"):
        fails.append("status")
    if needs.get("needed_by") and p.get("available_from") and p["available_from"] > needs["needed_by"]:
        fails.append("needed_by")
    area = area_ha(ft) if layer == "plots" else p.get("land_area_ha")
    if needs.get("land_min_ha") is not None and not (area is not None and area >= needs["land_min_ha"]):
        fails.append("land_min_ha")
    for need, field in [
        ("floor_min_m2", "floor_area_m2"),
        ("clear_height_min_m", "clear_height_m"),
        ("dock_doors_min", "dock_doors"),
        ("power_min_mva", "power_mva"),
        ("water_min_m3_day", "water_m3_day"),
    ]:
        if needs.get(need) is not None and not (p.get(field) is not None and p[field] >= needs[need]):
            fails.append(need)
    for u in ["gas", "fibre", "rail_siding"]:
        if needs.get(u) and p.get(u) is not True:
            fails.append(u)
    for z in CONSTRAINTS:
        if z not in needs.get("accepts", []) and p.get(z) is True:
            fails.append("accepts." + z)
    t = needs.get("tenure")
    if t and p.get("tenure") and not (t == "sale_or_lease" or p["tenure"] in ("sale_or_lease", t)):
        fails.append("tenure")
    if needs.get("territory") and p.get("territory") != needs["territory"]:
        fails.append("territory")
    return fails, area


def main():
    d, fixtures, factors = sys.argv[1], sys.argv[2], read_factors(sys.argv[3])
    sites = {"plots": load_layer(fixtures, "plots"), "buildings": load_layer(fixtures, "buildings")}
    deposits = load_layer(fixtures, "waste_deposits")
    public = [
        (i, ft) for i, ft in deposits.items()
        if ft["properties"].get("confidentiality") != "partners"
    ]
    projects = json.load(open(f"{d}/projects.json"))
    answers = json.load(open(f"{d}/answers.json"))
    nets = {}
    errors = []
    checked = {"projects": 0, "sites": 0, "criteria": 0, "borderline": 0}
    for k, (needs, answer) in enumerate(zip(projects, answers)):
        checked["projects"] += 1
        got = {(f["properties"]["site_layer"], int(f["id"])): f["properties"] for f in answer["features"]}
        expected_pass = []
        for layer, feats in sites.items():
            for i, ft in feats.items():
                fails, area = site_checks(layer, ft, needs)
                g = got.get((layer, i))
                if g is None:
                    if not fails and answer["numberMatched"] > answer["numberReturned"]:
                        expected_pass.append((layer, i, area, None))
                        continue
                    errors.append(f"project {k}: {layer}/{i} missing from the answer")
                    continue
                checked["sites"] += 1
                if sorted(fails) != sorted(g.get("failed", [])):
                    errors.append(f"project {k}: {layer}/{i} fails {fails}, server says {g.get('failed', [])}")
                    continue
                if not fails:
                    expected_pass.append((layer, i, area, g))
        if answer["numberMatched"] != len(expected_pass):
            errors.append(f"project {k}: {len(expected_pass)} sites pass, server says {answer['numberMatched']}")
        totals = []
        complete = all(g is not None for *_, g in expected_pass)
        for layer, i, area, g in expected_pass:
            if g is None:
                continue
            crit = g["criteria"]
            mine = []
            if needs.get("land_min_ha") is not None or needs.get("land_max_ha") is not None:
                mx = needs.get("land_max_ha")
                s = mx / area if (mx is not None and area > mx) else 1.0
                mine.append(("land", None, s, needs.get("weights", {}).get("land", 1.0)))
            mats = needs.get("materials", [])
            wm = needs.get("weights", {}).get("materials", 1.0)
            mat_crit = [c for c in crit if c["criterion"] == "material"]
            impacts = g.get("impact", {}).get("materials", [])
            if len(impacts) != len(mats):
                errors.append(f"project {k}: {layer}/{i}: {len(mats)} material impacts expected, server has {len(impacts)}")
                impacts = [None] * len(mats)
            for m, c, c_impact in zip(mats, mat_crit, impacts):
                prof = m.get("profile", "hgv")
                if prof not in nets:
                    nets[prof] = graph(d, prof)
                net = nets[prof]
                limit_ms = round(m.get("max_drive_min", 30) * 60 * 1000)
                site = net[2].get((layer, i))
                reach = []
                if site is None:
                    tonnes, near, border = 0.0, None, False
                else:
                    at = times_to(net, site, limit_ms + TOL_S * 1000)
                    tonnes, near, border = 0.0, None, False
                    for j, ft in public:
                        p = ft["properties"]
                        if p["material"] != m["material"] or p.get("unit", "t") != "t":
                            continue
                        ds = net[2].get(("waste_deposits", j))
                        if ds is None:
                            continue
                        t, metres = at(ds)
                        if abs(t - limit_ms) <= TOL_S * 1000:
                            border = True
                        if t <= limit_ms:
                            tonnes += p["quantity"]
                            near = t if near is None else min(near, t)
                            reach.append((t, j, p["quantity"], metres))
                checked["criteria"] += 1
                if border:
                    checked["borderline"] += 1
                elif abs(c["value"] - tonnes) > 1e-6 * max(1.0, tonnes):
                    errors.append(f"project {k}: {layer}/{i} {m['material']}: {tonnes} t reachable, server says {c['value']}")
                elif c_impact is not None:
                    check_impact(k, layer, i, m, reach, c_impact, factors, errors, checked)
                if not border and near is not None and (c.get("nearest_min") is None or abs(c["nearest_min"] * 60 - near / 1000) > TOL_S):
                    errors.append(f"project {k}: {layer}/{i} {m['material']}: nearest {near / 1000} s, server says {c.get('nearest_min')} min")
                s = min(1.0, c["value"] / m["tonnes_per_year"])
                if abs(s - c["score"]) > 1e-4:
                    errors.append(f"project {k}: {layer}/{i} {m['material']}: score {s}, server says {c['score']}")
                mine.append(("material", m["material"], c["score"], wm / len(mats)))
            occs = needs.get("occupations", [])
            ww = needs.get("weights", {}).get("workforce", 1.0)
            for o in occs:
                c = next(c for c in crit if c["criterion"] == "workforce" and c["occupation"] == o["code"])
                s = min(1.0, c["value"] / o["headcount"])
                if abs(s - c["score"]) > 1e-4:
                    errors.append(f"project {k}: {layer}/{i} {o['code']}: score {s}, server says {c['score']}")
                mine.append(("workforce", o["code"], c["score"], ww / len(occs)))
            wsum = sum(w for *_, w in mine)
            total = sum(s * w for _, _, s, w in mine) / wsum if wsum > 0 else 0.0
            if abs(total - g["score"]) > 1e-3:
                errors.append(f"project {k}: {layer}/{i}: total {total}, server says {g['score']}")
            totals.append((-round(total, 4), 0 if layer == "plots" else 1, i))
        totals.sort()
        if not complete:
            checked["partial_rankings"] = checked.get("partial_rankings", 0) + 1
            continue
        want = [(("plots", "buildings")[l], i) for _, l, i in totals[:200]]
        have = [(f["properties"]["site_layer"], int(f["id"])) for f in answer["features"] if f["properties"]["passes"]]
        # Equal totals (to 4 decimals) may come in either order only if the server's totals differ
        # below that: compare the sequence of totals, then the sets.
        # Totals recomputed from the answer's scores (rounded to 4 decimals) may differ from the
        # server's by a few 1e-4.
        mine_t = [x[0] for x in totals[:200]]
        theirs = [-round(f["properties"]["score"], 4) for f in answer["features"] if f["properties"]["passes"]]
        if len(mine_t) != len(theirs) or any(abs(a - b) > 3e-4 for a, b in zip(mine_t, theirs)):
            at = next((n for n, (a, b) in enumerate(zip(mine_t, theirs)) if a != b), min(len(mine_t), len(theirs)))
            errors.append(f"project {k}: ranking by total differs at rank {at}: {mine_t[at:at + 3]} vs {theirs[at:at + 3]} ({len(mine_t)} vs {len(theirs)})")
        else:
            # The same sites in the same order, but for ties (within the rounding).
            for n, (w, h) in enumerate(zip(want, have)):
                if w != h and abs(mine_t[n] - theirs[n]) > 0 and not any(
                    abs(mine_t[m] - mine_t[n]) <= 3e-4 and want[m] == h for m in range(len(want))
                ):
                    errors.append(f"project {k}: rank {n}: {w} expected, server has {h}")
                    break
    print(json.dumps({"checked": checked, "errors": errors[:30], "error_count": len(errors)}))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
