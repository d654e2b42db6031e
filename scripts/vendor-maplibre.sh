#!/usr/bin/env bash
# Vendors MapLibre GL JS into src/api/assets/vendor/ from the npm package, checking the
# tarball against the pinned integrity hash (the registry's sha512). The map page is served
# from these files, so it works offline; run this only to change the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=5.24.1
INTEGRITY=sha512-HyiYBwtsbk3L1n1EPLJHWqdoyMiF80n7tEYXFZyu2m1TjvaNx6KMLiFeDdmszt1/mq2zvsR1TJuX/NMu5BonXQ==
dest=src/api/assets/vendor
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
( cd "$tmp" && npm pack --silent "maplibre-gl@$VERSION" >/dev/null )
tgz="$tmp/maplibre-gl-$VERSION.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$got" != "$INTEGRITY" ]; then
  echo "vendor-maplibre: integrity mismatch for maplibre-gl@$VERSION: got $got, want $INTEGRITY" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$tmp"
mkdir -p "$dest"
cp "$tmp/package/dist/maplibre-gl.js" "$tmp/package/dist/maplibre-gl.css" "$tmp/package/LICENSE.txt" "$dest/"
echo "$VERSION $INTEGRITY" > "$dest/VERSION"
echo "vendored maplibre-gl@$VERSION into $dest"
