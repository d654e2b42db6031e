#!/usr/bin/env bash
# Vendors Chart.js (MIT) into src/api/assets/vendor/ from the npm package, checking the
# tarball against the pinned integrity hash (the registry's sha512). The diagnostic page draws
# its charts with it and works offline; run this only to change the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.6.1
INTEGRITY=sha512-hJyniucsFmq//EvXYvJ6c6mahPoI3kaxdjVH8awTaJ/fDNWeSqqqArixMJWkWNN6fcYvPU3HneSANFNYtRi61g==
dest=src/api/assets/vendor
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
( cd "$tmp" && npm pack --silent "chart.js@$VERSION" >/dev/null )
tgz="$tmp/chart.js-$VERSION.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$got" != "$INTEGRITY" ]; then
  echo "vendor-chartjs: integrity mismatch for chart.js@$VERSION: got $got, want $INTEGRITY" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$tmp"
mkdir -p "$dest"
cp "$tmp/package/dist/chart.umd.min.js" "$dest/"
cp "$tmp/package/LICENSE.md" "$dest/chart.js-LICENSE.md"
echo "$VERSION $INTEGRITY" > "$dest/CHARTJS_VERSION"
echo "vendored chart.js@$VERSION into $dest"
