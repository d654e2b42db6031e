"""Decodes every .mvt file of a folder with the independent `mapbox-vector-tile` package and
prints one JSON object: file name -> decoded tile (layers, features with id, geometry in raw
tile coordinates, y down, and typed properties)."""
import json
import pathlib
import sys

import mapbox_vector_tile

out = {}
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.mvt")):
    out[path.name] = mapbox_vector_tile.decode(
        path.read_bytes(), default_options={"y_coord_down": True}
    )
json.dump(out, sys.stdout)
