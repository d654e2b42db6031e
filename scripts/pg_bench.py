#!/usr/bin/env python3
"""Load generators of scripts/pg-bench.sh (replicas of a PostgreSQL/PostGIS database).
Python standard library only; keep-alive HTTP/1.1 connections (http.client), loopback.

  pg_bench.py lag A B KEY RATE SECONDS
      Open loop: writes (one waste deposit per POST) scheduled every 1/RATE s on replica A by
      a pool of threads, each on its own connection; every SAMPLE_EVERY-th acknowledged write
      (env, default 10) goes to a second process that polls replica B every POLL_MS (env,
      default 2) ms for that feature until it answers 200: the lag is the time from A's 201
      to B's first 200 (CLOCK_MONOTONIC, shared by both processes). The first WARMUP_S
      (env, default 1) seconds are written but not counted.
  pg_bench.py closed A KEY CLIENTS SECONDS
      Closed loop: CLIENTS clients (spread over a few processes, so that the GIL is not the
      bottleneck) POST one deposit after another on replica A.
  pg_bench.py point A
      "lon lat" of one deposit of A (the writes land around it).

Each prints one line of `key=value` pairs (rates per second, latencies in milliseconds).
"""
import http.client
import itertools
import json
import multiprocessing as mp
import os
import queue
import random
import sys
import threading
import time

mono = time.monotonic


def pct(values, p):
    """The p-th percentile (nearest rank) of values, or nan."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def split(addr):
    host, port = addr.rsplit(":", 1)
    return host, int(port)


class Conn:
    """One keep-alive connection, reopened after an error."""

    def __init__(self, addr, timeout=30.0):
        self.addr, self.timeout, self.c = split(addr), timeout, None

    def request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            if self.c is None:
                self.c = http.client.HTTPConnection(*self.addr, timeout=self.timeout)
            try:
                self.c.request(method, path, body=body, headers=headers or {})
                r = self.c.getresponse()
                data = r.read()
                return r.status, data
            except (http.client.HTTPException, OSError):
                self.c.close()
                self.c = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def feature(lon, lat, rng):
    return json.dumps({
        "type": "Feature",
        "geometry": {"type": "Point",
                     "coordinates": [round(lon + rng.uniform(-0.02, 0.02), 6),
                                     round(lat + rng.uniform(-0.02, 0.02), 6)]},
        "properties": {"material": "wood", "quantity": 5, "holder": "bench",
                       "confidentiality": "public"},
    }).encode()


def write_headers(key):
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/geo+json"}


def post(conn, key, body):
    """(status, id or None)."""
    status, data = conn.request("POST", "/layers/waste_deposits/features", body, write_headers(key))
    if status != 201:
        return status, None
    return status, json.loads(data)["features"][0]["id"]


def point(addr):
    status, data = Conn(addr).request("GET", "/layers/waste_deposits/search?limit=1")
    assert status == 200, (status, data[:200])
    lon, lat = json.loads(data)["features"][0]["geometry"]["coordinates"][:2]
    return lon, lat


# ------------------------------------------------------------------------------------ lag
def checker(b_addr, samples, results, poll_s, pollers):
    """Child process: for each (id, t_ack) received, poll B until it answers 200."""
    todo = queue.Queue()
    lags, first_poll, errors = [], [0], [0]
    lock = threading.Lock()

    def poller():
        conn = Conn(b_addr)
        path = "/layers/waste_deposits/features/"
        while True:
            item = todo.get()
            if item is None:
                return
            fid, t_ack = item
            polls = 0
            deadline = t_ack + 60.0
            next_t = mono()
            while True:
                try:
                    status, _ = conn.request("GET", path + str(fid))
                except OSError:
                    status = -1
                now = mono()
                polls += 1
                if status == 200:
                    with lock:
                        lags.append(now - t_ack)
                        if polls == 1:
                            first_poll[0] += 1
                    break
                if status != 404 or now > deadline:
                    with lock:
                        errors[0] += 1
                    break
                next_t += poll_s
                delay = next_t - mono()
                if delay > 0:
                    time.sleep(delay)
                else:
                    next_t = mono()

    threads = [threading.Thread(target=poller, daemon=True) for _ in range(pollers)]
    for t in threads:
        t.start()
    while True:
        item = samples.get()
        if item is None:
            break
        todo.put(item)
    for _ in threads:
        todo.put(None)
    for t in threads:
        t.join()
    results.put((lags, first_poll[0], errors[0]))


def lag(a_addr, b_addr, key, rate, seconds):
    sample_every = int(os.environ.get("SAMPLE_EVERY", "10"))
    poll_s = float(os.environ.get("POLL_MS", "2")) / 1000.0
    warmup = float(os.environ.get("WARMUP_S", "1"))
    # Enough writers for the rate at ~40 ms per write, at least 8.
    writers = int(os.environ.get("WRITERS", str(max(8, min(64, int(rate * 0.04) + 8)))))
    lon, lat = point(a_addr)
    ctx = mp.get_context("fork")
    samples, results = ctx.Queue(), ctx.Queue()
    child = ctx.Process(target=checker, args=(b_addr, samples, results, poll_s, 16), daemon=True)
    child.start()

    total = int((seconds + warmup) * rate)
    t0 = mono() + 0.2
    counter = itertools.count()
    lock = threading.Lock()
    lat_ms, late, errors, acked = [], [0], [0], [0]
    first_counted_ack, last_ack = [None], [t0]

    def writer(seed):
        rng = random.Random(seed)
        conn = Conn(a_addr)
        while True:
            i = next(counter)
            if i >= total:
                return
            at = t0 + i / rate
            delay = at - mono()
            if delay > 0:
                time.sleep(delay)
            body = feature(lon, lat, rng)
            t_send = mono()
            try:
                status, fid = post(conn, key, body)
            except OSError:
                status, fid = -1, None
            t_ack = mono()
            counted = at >= t0 + warmup
            if fid is not None and i % sample_every == 0 and counted:
                samples.put((fid, t_ack))
            with lock:
                if fid is None:
                    errors[0] += 1
                    continue
                if counted:
                    acked[0] += 1
                    lat_ms.append((t_ack - t_send) * 1000)
                    if t_send - at > 0.005:
                        late[0] += 1
                    if first_counted_ack[0] is None:
                        first_counted_ack[0] = at
                    last_ack[0] = max(last_ack[0], t_ack)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    samples.put(None)
    lags, first, lag_errors = results.get()
    child.join()
    span = last_ack[0] - (t0 + warmup)
    lag_ms = [x * 1000 for x in lags]
    print(f"target={rate:g} achieved={acked[0] / span:.1f} acked={acked[0]} errors={errors[0]} "
          f"late_sends={late[0]} writers={writers} "
          f"write_p50={pct(lat_ms, 50):.2f} write_p99={pct(lat_ms, 99):.2f} "
          f"samples={len(lag_ms)} lag_errors={lag_errors} seen_at_first_poll={first} "
          f"lag_p50={pct(lag_ms, 50):.2f} lag_p99={pct(lag_ms, 99):.2f} "
          f"lag_max={max(lag_ms) if lag_ms else float('nan'):.2f}")


# ------------------------------------------------------------------------------------ closed
def closed_worker(a_addr, key, clients, seconds, start_at, seed, results):
    lon, lat = point(a_addr)
    lock = threading.Lock()
    lat_ms, errors = [], [0]
    deadline = start_at + seconds

    def client(n):
        rng = random.Random(seed * 1000 + n)
        conn = Conn(a_addr)
        mine, errs = [], 0
        delay = start_at - mono()
        if delay > 0:
            time.sleep(delay)
        while True:
            body = feature(lon, lat, rng)
            t = mono()
            if t >= deadline:
                break
            try:
                status, fid = post(conn, key, body)
            except OSError:
                fid = None
            if fid is None:
                errs += 1
            else:
                mine.append((mono() - t) * 1000)
        with lock:
            lat_ms.extend(mine)
            errors[0] += errs

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put((lat_ms, errors[0]))


def closed(a_addr, key, clients, seconds):
    procs_n = min(clients, int(os.environ.get("PROCESSES", "4")))
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    start_at = mono() + 0.5
    per = [clients // procs_n + (1 if i < clients % procs_n else 0) for i in range(procs_n)]
    procs = [ctx.Process(target=closed_worker, args=(a_addr, key, n, seconds, start_at, i, results))
             for i, n in enumerate(per)]
    for p in procs:
        p.start()
    lat_ms, errors = [], 0
    for _ in procs:
        l, e = results.get()
        lat_ms.extend(l)
        errors += e
    for p in procs:
        p.join()
    print(f"clients={clients} writes_s={len(lat_ms) / seconds:.1f} acked={len(lat_ms)} errors={errors} "
          f"p50={pct(lat_ms, 50):.2f} p99={pct(lat_ms, 99):.2f}")


def main():
    a = sys.argv[1:]
    if a and a[0] == "lag" and len(a) == 6:
        lag(a[1], a[2], a[3], float(a[4]), float(a[5]))
    elif a and a[0] == "closed" and len(a) == 5:
        closed(a[1], a[2], int(a[3]), float(a[4]))
    elif a and a[0] == "point" and len(a) == 2:
        print("%s %s" % point(a[1]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
