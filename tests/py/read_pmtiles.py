"""Reads a PMTiles archive with the independent `pmtiles` package: writes every tile,
decompressed, to OUT_DIR as z_x_y.mvt, and prints the header, the metadata and, for a check
of random access, which tiles `Reader.get` finds."""
import gzip
import json
import pathlib
import sys

from pmtiles.reader import MmapSource, Reader, all_tiles

archive, out_dir = sys.argv[1], pathlib.Path(sys.argv[2])
with open(archive, "rb") as f:
    source = MmapSource(f)
    reader = Reader(source)
    header = reader.header()
    metadata = reader.metadata()
    tiles = []
    for (z, x, y), data in all_tiles(source):
        if header["tile_compression"].name == "GZIP":
            data = gzip.decompress(data)
        (out_dir / f"{z}_{x}_{y}.mvt").write_bytes(data)
        tiles.append([z, x, y])
    # Random access through the directories (leaves included), on a sample: each get re-reads
    # and decodes the directories in Python.
    sample = tiles[::25]
    found_by_get = sum(1 for z, x, y in sample if reader.get(z, x, y) is not None)
    clean = {k: (v.name if hasattr(v, "name") else v) for k, v in header.items()}
    json.dump(
        {"header": clean, "metadata": metadata, "tiles": tiles, "found_by_get": found_by_get, "sampled": len(sample)},
        sys.stdout,
    )
