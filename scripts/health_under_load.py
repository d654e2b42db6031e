#!/usr/bin/env python3
"""/health p99 while 64 connections hammer the heavy endpoints and 1,000 idle connections are
held (issue 13): starts `terriens serve` on the demo data, opens the idle connections, runs the
hammering threads, samples /health on fresh connections, prints p50/p99/max and PASS or FAIL
against 50 ms. Loopback only; every loop is bounded in time.

Usage: scripts/health_under_load.py BIN [--seconds 20] [--idle 1000] [--hammer 64]
"""
import argparse
import os
import socket
import subprocess
import sys
import threading
import time

HEAVY = [
    "/sites/near-waste?materials=wood&max_drive_min=120",
    "/isochrone?lon=1.0&lat=49.52&contours_min=30,60&profile=car",
    "/sites/near-waste?materials=wood,plastic&within_km=50",
]


def get(addr, path, timeout=60.0):
    """One GET on a fresh connection; returns (status, seconds)."""
    t = time.perf_counter()
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, time.perf_counter() - t


def start(binary, port):
    env = dict(os.environ)
    env.update({
        "TERRIENS_LIMITS_HEADER_READ_TIMEOUT_MS": "600000",
        "TERRIENS_LIMITS_REQUEST_TIMEOUT_MS": "5000",
        "RUST_LOG": "warn",
    })
    p = subprocess.Popen([binary, "serve", "--addr", f"127.0.0.1:{port}"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if get(("127.0.0.1", port), "/health", 2)[0] == 200:
                return p
        except OSError:
            time.sleep(0.5)
    p.kill()
    sys.exit("the server did not start")


def hammer(addr, stop, counts, i):
    k = i
    while not stop.is_set():
        try:
            status, _ = get(addr, HEAVY[k % len(HEAVY)], 30)
            counts[status] = counts.get(status, 0) + 1
        except OSError:
            counts["error"] = counts.get("error", 0) + 1
        k += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--hammer", type=int, default=64)
    ap.add_argument("--port", type=int, default=18093)
    a = ap.parse_args()
    addr = ("127.0.0.1", a.port)
    server = start(a.binary, a.port)
    try:
        idle = [socket.create_connection(addr, timeout=5) for _ in range(a.idle)]
        stop, counts = threading.Event(), {}
        threads = [threading.Thread(target=hammer, args=(addr, stop, counts, i), daemon=True)
                   for i in range(a.hammer)]
        for t in threads:
            t.start()
        time.sleep(2)  # let the heavy work pile up
        lat, failed = [], 0
        end = time.time() + a.seconds
        while time.time() < end:
            try:
                status, s = get(addr, "/health", 10)
                if status == 200:
                    lat.append(s)
                else:
                    failed += 1
            except OSError:
                failed += 1
            time.sleep(0.02)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        for s in idle:
            s.close()
    finally:
        server.kill()
        server.wait()
    lat.sort()
    if not lat:
        sys.exit("FAIL: /health never answered")
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
    print(f"idle connections held: {a.idle}; hammering connections: {a.hammer}")
    print(f"heavy answers by status: {counts}")
    print(f"/health samples: {len(lat)} ok, {failed} failed; "
          f"p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, max {lat[-1] * 1000:.1f} ms")
    ok = failed == 0 and p(0.99) <= 50.0
    print(("PASS" if ok else "FAIL") + ": /health p99 must be ≤ 50 ms with no failure")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
