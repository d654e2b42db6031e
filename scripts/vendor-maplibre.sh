#!/usr/bin/env bash
# Vendors MapLibre GL JS (the map page's renderer); run this only to change the pinned version.
exec "$(dirname "$0")/vendor-npm.sh" maplibre-gl 5.24.1 \
  sha512-HyiYBwtsbk3L1n1EPLJHWqdoyMiF80n7tEYXFZyu2m1TjvaNx6KMLiFeDdmszt1/mq2zvsR1TJuX/NMu5BonXQ== \
  VERSION dist/maplibre-gl.js dist/maplibre-gl.css LICENSE.txt
