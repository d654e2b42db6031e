#!/usr/bin/env python3
"""Helpers of scripts/compare/run.sh: request lists, load-generator summaries, the final table.

Subcommands:
  rows DATA                      "<deposits>/<plots>" held by a terriens data directory
  lists OUT LIMIT                from OUT/centres.txt and OUT/z14.txt, the wrk Lua scripts and
                                 tile lists of every workload
  wrk NAME SIDE FILE LISTLEN     one TSV line from a wrk --latency output (LISTLEN > 0: the run
                                 must not request more than LISTLEN distinct tiles)
  pgbench NAME SIDE LOG LOGDIR   one TSV line from pgbench's summary and per-transaction logs
  check OUT TERRIENS DB LIMIT    radius and kNN answers of both sides for 20 centres compared
  warm LIST A B [gzip]           request every tile of LIST once on both sides (fills caches)
  zooms OUT A B                  first-request latency and size per zoom, both sides (markdown)
  table RESULTS                  the comparison table (markdown)

TSV lines: name, side, req/s, p50 ms, p99 ms, errors, requests, note.
"""
import concurrent.futures
import glob
import gzip as gz
import json
import math
import os
import random
import statistics
import struct
import subprocess
import sys
import time
import urllib.request

SEED = 76
RADIUS_M = 5000
MATERIAL = "wood"
MIXES = {"z10_14": range(10, 15), "z6_14": range(6, 15)}
WARM_PER_ZOOM = 100
HERE = os.path.dirname(os.path.abspath(__file__))
# terriens' API key (reader, partners): it then serves confidential deposits too, like PostGIS.
KEY = os.environ.get("COMPARE_TERRIENS_KEY", "")


def fgb_count(path):
    """Feature count from a FlatGeobuf header (no GDAL needed)."""
    with open(path, "rb") as f:
        magic = f.read(8)
        assert magic[:3] == b"fgb", path
        (size,) = struct.unpack("<I", f.read(4))
        buf = f.read(size)
    # Header table: root offset, vtable; features_count is field 8 (ulong).
    root = struct.unpack_from("<I", buf, 0)[0]
    vt = root - struct.unpack_from("<i", buf, root)[0]
    vt_len = struct.unpack_from("<H", buf, vt)[0]
    off_pos = vt + 4 + 2 * 8
    if off_pos + 2 > vt + vt_len:
        return 0
    off = struct.unpack_from("<H", buf, off_pos)[0]
    return struct.unpack_from("<Q", buf, root + off)[0] if off else 0


def rows(data):
    d = fgb_count(os.path.join(data, "waste_deposits.fgb"))
    p = fgb_count(os.path.join(data, "plots.fgb"))
    print(f"{d}/{p}")


def lua(path, paths, gzip=False, auth=False):
    threads = int(os.environ.get("COMPARE_THREADS", "2"))
    """A wrk script cycling through `paths`; each thread starts at its own share of the list,
    so that a list of distinct tiles is requested once unless the run wraps around it."""
    h = []
    if gzip:
        h.append('["Accept-Encoding"] = "gzip"')
    if auth and KEY:
        h.append(f'["Authorization"] = "Bearer {KEY}"')
    headers = "{ " + ", ".join(h) + " }"
    with open(path + ".paths", "w") as f:
        for p in paths:
            f.write(p + "\n")
    with open(path, "w") as f:
        f.write(
            f"""local paths = {{}}
for line in io.lines("{path}.paths") do paths[#paths + 1] = line end
local headers = {headers}
local nthreads = 0
function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
end
function init(args)
  local t = tid or 1
  i = math.floor((t - 1) * #paths / {threads}) % #paths
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], headers)
end
"""
        )


def write_tiles(path, tiles):
    with open(path, "w") as f:
        for z, x, y in tiles:
            f.write(f"{z} {x} {y}\n")


def lists(out, limit):
    centres = [tuple(l.split()) for l in open(os.path.join(out, "centres.txt")) if l.strip()]
    radius = [
        f"/layers/waste_deposits/search?lon={lon}&lat={lat}&radius_m={RADIUS_M}&material={MATERIAL}&limit={limit}"
        for lon, lat in centres
    ]
    knn = [f"/layers/waste_deposits/search?lon={lon}&lat={lat}&k=10" for lon, lat in centres]
    lua(os.path.join(out, "radius.lua"), radius, auth=True)
    lua(os.path.join(out, "knn.lua"), knn, auth=True)

    z14 = [tuple(map(int, l.split())) for l in open(os.path.join(out, "z14.txt")) if l.strip()]
    by_zoom = {}
    for z in range(6, 15):
        s = 14 - z
        by_zoom[z] = sorted({(x >> s, y >> s) for x, y in z14})
    for mix, zooms in MIXES.items():
        rnd = random.Random(SEED)
        # Cold: every tile holding data in the zoom range, once, in random order (a fresh
        # deployment crawled by its users; mostly z14 since most tiles are there).
        cold = [(z, x, y) for z in zooms for x, y in by_zoom[z]]
        rnd.shuffle(cold)
        write_tiles(os.path.join(out, f"cold_{mix}.txt"), cold)
        # Warm: a viewer's mix, as many requests per zoom: up to WARM_PER_ZOOM distinct tiles
        # per zoom, repeated where a zoom has fewer.
        warm_distinct, warm = [], []
        for z in zooms:
            pick = rnd.sample(by_zoom[z], min(WARM_PER_ZOOM, len(by_zoom[z])))
            warm_distinct += [(z, x, y) for x, y in pick]
            warm += [(z,) + pick[i % len(pick)] for i in range(WARM_PER_ZOOM)]
        rnd.shuffle(warm)
        write_tiles(os.path.join(out, f"warm_{mix}.txt"), warm_distinct)
        for kind, tiles in (("cold", cold), ("warm", warm)):
            base = os.path.join(out, f"{kind}_{mix}")
            lua(base + ".terriens.lua", [f"/tiles/plots,waste_deposits/{z}/{x}/{y}" for z, x, y in tiles], auth=True)
            lua(base + ".martin.lua", [f"/plots,waste_deposits/{z}/{x}/{y}" for z, x, y in tiles])
            if kind == "warm":
                lua(base + ".terriens_gzip.lua", [f"/tiles/plots,waste_deposits/{z}/{x}/{y}" for z, x, y in tiles], True, True)
                lua(base + ".pmtiles_gzip.lua", [f"/compare/{z}/{x}/{y}" for z, x, y in tiles], True)
    print(
        "tiles with data: " + ", ".join(f"z{z} {len(v)}" for z, v in by_zoom.items()),
        file=sys.stderr,
    )


def ms(s):
    s = s.strip()
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3), ("m", 6e4)):
        if s.endswith(unit):
            return float(s[: -len(unit)]) * f
    return float(s)


def wrk(name, side, path, listlen="0"):
    text = open(path).read()
    rps = p50 = p99 = float("nan")
    errors = requests = 0
    for line in text.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec"):
            rps = float(parts[1])
        elif parts[:1] == ["50%"]:
            p50 = ms(parts[1])
        elif parts[:1] == ["99%"]:
            p99 = ms(parts[1])
        elif "Non-2xx" in line:
            errors += int(parts[-1])
        elif "Socket errors" in line:
            errors += sum(int(p.strip(",")) for p in parts if p.strip(",").isdigit())
        elif "requests in" in line:
            requests = int(parts[0])
    note = ""
    if int(listlen) and requests > int(listlen):
        note = f"{requests} requests over {listlen} distinct tiles (repeats are cache hits only where the binary ignores TERRIENS_TILES_CACHE_MB=0)"
    print(f"{name}\t{side}\t{rps:.1f}\t{p50:.3f}\t{p99:.3f}\t{errors}\t{requests}\t{note}")


def pgbench(name, side, log, logdir):
    tps = float("nan")
    failed = 0
    for line in open(log):
        if line.startswith("tps ="):
            tps = float(line.split()[2])
        elif line.startswith("number of failed transactions"):
            failed = int(line.split(":")[1].split()[0])
    lat = []
    for f in glob.glob(os.path.join(logdir, "tx*")):
        for line in open(f):
            p = line.split()
            if len(p) >= 3:
                lat.append(int(p[2]) / 1000.0)  # µs → ms
    lat.sort()
    if lat:
        p50 = lat[len(lat) // 2]
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    else:
        p50 = p99 = float("nan")
    print(f"{name}\t{side}\t{tps:.1f}\t{p50:.3f}\t{p99:.3f}\t{failed}\t{len(lat)}\t")


def fetch(url, gzip=False):
    headers = {"Accept-Encoding": "gzip"} if gzip else {}
    if KEY:
        headers["Authorization"] = f"Bearer {KEY}"  # terriens reads it, martin ignores it
    req = urllib.request.Request(url, headers=headers)
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as r:
        body = r.read()
        status = r.status
    return status, body, (time.perf_counter() - t) * 1000.0


def psql(db, sql):
    return subprocess.run(
        ["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def sql_of(name, i, limit):
    text = open(os.path.join(HERE, name)).read()
    text = "\n".join(l for l in text.splitlines() if not l.startswith("\\set") and not l.startswith("--"))
    return text.replace(":limit", str(limit)).replace(":i", str(i))


def check(out, terriens, db, limit):
    """Both sides must answer the same: same ids in the same order, same match count."""
    centres = [tuple(l.split()) for l in open(os.path.join(out, "centres.txt")) if l.strip()]
    for kind in ("radius", "knn", "knn_geography"):
        same = 0
        sizes = []
        notes = []
        for i in range(1, 21):
            lon, lat = centres[i - 1]
            q = f"radius_m={RADIUS_M}&material={MATERIAL}&limit={limit}" if kind == "radius" else "k=10"
            _, body, _ = fetch(f"{terriens}/layers/waste_deposits/search?lon={lon}&lat={lat}&{q}")
            t = json.loads(body)
            p = json.loads(psql(db, sql_of(f"{kind}.sql", i, limit)))
            tid = [f["id"] for f in t["features"]]
            pid = [f["id"] for f in p["features"]]
            sizes.append((len(body), len(json.dumps(p, separators=(",", ":"))), t.get("numberMatched")))
            if tid == pid and (kind != "radius" or t["numberMatched"] == p["numberMatched"]):
                same += 1
            elif len(notes) < 2:
                notes.append(f"centre {i}: terriens {tid[:5]}… ({t.get('numberMatched')}), postgis {pid[:5]}… ({p.get('numberMatched')})")
        mt = statistics.mean(s[0] for s in sizes)
        mp = statistics.mean(s[1] for s in sizes)
        matched = statistics.median(s[2] or 0 for s in sizes)
        print(
            f"check {kind}: {same}/20 centres give the same features in the same order; "
            f"median numberMatched {matched:.0f}; mean body terriens {mt / 1024:.1f} KB, postgis {mp / 1024:.1f} KB"
            + ("; " + "; ".join(notes) if notes else "")
        )


def warm(listfile, a, b, gzip=False):
    tiles = [l.split() for l in open(listfile) if l.strip()]
    urls = [f"{base}/{z}/{x}/{y}" for base in (a, b) for z, x, y in tiles]
    errors = 0

    def one(u):
        try:
            fetch(u, bool(gzip))
            return 0
        except Exception:
            return 1

    t = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        errors = sum(ex.map(one, urls))
    print(f"warm {listfile} {a} {b}: {len(urls)} tiles in {time.perf_counter() - t:.1f} s, {errors} errors")


def zooms(out, terriens, martin):
    """First request of each distinct tile of the z6-z14 warm list, one at a time, both sides
    cold: median and largest latency and size per zoom (markdown)."""
    tiles = sorted((int(z), int(x), int(y)) for z, x, y in (l.split() for l in open(os.path.join(out, "warm_z6_14.txt")) if l.strip()))
    stats = {}
    for side, base in (("terriens", terriens), ("martin", martin)):
        for z, x, y in tiles:
            try:
                _, body, t = fetch(f"{base}/{z}/{x}/{y}")
                stats.setdefault((side, z), []).append((t, len(body)))
            except Exception as e:
                print(f"{side} {z}/{x}/{y}: {e}", file=sys.stderr)
    print("| zoom | tiles | terriens ms p50 / max | terriens KB p50 / max | martin ms p50 / max | martin KB p50 / max |")
    print("|---:|---:|---:|---:|---:|---:|")
    for z in sorted({t[0] for t in tiles}):
        row = [f"z{z}", str(sum(1 for t in tiles if t[0] == z))]
        for side in ("terriens", "martin"):
            v = stats.get((side, z), [])
            if v:
                ts = sorted(a for a, _ in v)
                bs = sorted(b for _, b in v)
                row.append(f"{ts[len(ts) // 2]:,.1f} / {ts[-1]:,.1f}")
                row.append(f"{bs[len(bs) // 2] / 1024:,.1f} / {bs[-1] / 1024:,.1f}")
            else:
                row += ["–", "–"]
        print("| " + " | ".join(row) + " |")


LABELS = [
    ("radius", "radius 5 km + material, GeoJSON, nearest first", "postgis"),
    ("knn", "kNN k=10, GeoJSON", "postgis"),
    ("knn", "kNN k=10, GeoJSON (PostGIS on geography)", "postgis_geography"),
    ("tiles_cold_z10_14", "tiles z10–z14, cold", "martin"),
    ("tiles_cold_z6_14", "tiles z6–z14, cold", "martin"),
    ("tiles_warm_z10_14", "tiles z10–z14, warm", "martin"),
    ("tiles_warm_z6_14", "tiles z6–z14, warm", "martin"),
    ("tiles_gzip_z10_14", "tiles z10–z14, warm, gzip", "martin_pmtiles"),
    ("tiles_gzip_z6_14", "tiles z6–z14, warm, gzip", "martin_pmtiles"),
]
SIDE_NAMES = {"postgis": "PostGIS", "postgis_geography": "PostGIS", "martin": "martin (PostGIS)", "martin_pmtiles": "martin (PMTiles)"}


def table(results):
    runs = {}
    for line in open(results):
        f = line.rstrip("\n").split("\t")
        if len(f) < 6:
            continue
        f += [""] * (8 - len(f))
        name, side, a, b, c, err, n, note = f[:8]
        runs.setdefault((name, side), []).append((float(a), float(b), float(c), int(err), int(n or 0), note))

    def best(key):
        r = [x for x in runs.get(key, []) if not math.isnan(x[0])]
        return max(r, key=lambda x: x[0]) if r else None

    def rounds(key):
        return "/".join(f"{x[0]:,.0f}" for x in runs.get(key, []))

    print("| workload | terriens req/s | p50 ms | p99 ms | other side | other req/s | p50 ms | p99 ms | terriens / other |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|")
    notes = []
    for name, label, other in LABELS:
        t, o = best((name, "terriens")), best((name, other))
        if not t and not o:
            continue
        t = t or (float("nan"),) * 3 + (0, 0, "")
        o = o or (float("nan"),) * 3 + (0, 0, "")
        ratio = t[0] / o[0] if o[0] else float("inf")
        print(
            f"| {label} | {t[0]:,.0f} | {t[1]:.2f} | {t[2]:.2f} | {SIDE_NAMES[other]} | {o[0]:,.0f} | {o[1]:.2f} | {o[2]:.2f} | {ratio:,.1f}× |"
        )
        for side, r in (("terriens", t), (other, o)):
            if r[3]:
                notes.append(f"{label}, {side}: {r[3]} errors (non-2xx or socket)")
            if r[5]:
                notes.append(f"{label}, {side}: {r[5]}")
        notes.append(f"{label}: rounds terriens {rounds((name, 'terriens'))}, {SIDE_NAMES[other]} {rounds((name, other))} req/s")
    d = best(("radius", "postgis_defaults"))
    if d:
        notes.append(
            f"radius, PostGIS with its defaults (JIT on, 2 parallel workers): {d[0]:,.0f} tps, p50 {d[1]:.2f} ms, p99 {d[2]:.2f} ms"
            f" (rounds {rounds(('radius', 'postgis_defaults'))})"
        )
    if notes:
        print()
        for n in notes:
            print(f"- {n}")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {
        "rows": rows,
        "lists": lists,
        "wrk": wrk,
        "pgbench": pgbench,
        "check": check,
        "warm": warm,
        "zooms": zooms,
        "table": table,
    }[cmd](*args)


if __name__ == "__main__":
    main()
