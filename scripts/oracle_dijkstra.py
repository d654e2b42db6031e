#!/usr/bin/env python3
"""Independent oracle for terriens' routing tests (run by tests/routing_oracle.rs).

Reads a road graph exported by the test into DIR:
  nodes.tsv     node_id  lon  lat
  segments.tsv  a  b  w_ab_ms  w_ba_ms  length_m     (w = -1: that direction is closed)
  origins.txt   one node id per line
and writes DIR/times_<direction>.tsv: origin  node  ms, for every node reachable from (direction
`from`) or reaching (direction `to`) each origin, computed with networkx's Dijkstra.

It also re-measures every segment on the WGS84 ellipsoid with GeographicLib (Karney) and prints
a JSON summary on stdout: the largest difference with terriens' lengths, in metres.

Usage: oracle_dijkstra.py DIR
"""

import json
import sys

import networkx as nx
from geographiclib.geodesic import Geodesic


def main() -> None:
    d = sys.argv[1]
    pos = {}
    with open(f"{d}/nodes.tsv") as f:
        for line in f:
            i, lon, lat = line.split()
            pos[int(i)] = (float(lon), float(lat))
    g = nx.DiGraph()
    g.add_nodes_from(pos)
    max_err = 0.0
    worst = None
    with open(f"{d}/segments.tsv") as f:
        for line in f:
            a, b, w_ab, w_ba, length = line.split()
            a, b, w_ab, w_ba, length = int(a), int(b), int(w_ab), int(w_ba), float(length)
            (lon1, lat1), (lon2, lat2) = pos[a], pos[b]
            s12 = Geodesic.WGS84.Inverse(lat1, lon1, lat2, lon2)["s12"]
            err = abs(s12 - length)
            if err > max_err:
                max_err, worst = err, (a, b, s12, length)
            # Parallel roads between the same two nodes: the faster one is the one that counts.
            for u, v, w in ((a, b, w_ab), (b, a, w_ba)):
                if w >= 0 and (not g.has_edge(u, v) or g[u][v]["weight"] > w):
                    g.add_edge(u, v, weight=w)
    with open(f"{d}/origins.txt") as f:
        origins = [int(x) for x in f.read().split()]
    for direction, graph in (("from", g), ("to", g.reverse(copy=False))):
        with open(f"{d}/times_{direction}.tsv", "w") as out:
            for o in origins:
                for node, ms in nx.single_source_dijkstra_path_length(graph, o, weight="weight").items():
                    out.write(f"{o}\t{node}\t{ms}\n")
    print(json.dumps({"max_length_error_m": max_err, "worst_segment": worst, "edges": g.number_of_edges()}))


if __name__ == "__main__":
    main()
