#!/usr/bin/env bash
# Vendors files of an npm package into src/api/assets/vendor/, checking the tarball against
# the pinned integrity hash (the registry's sha512), and records "VERSION INTEGRITY" in
# VERSION_FILE there. The pages are served from these files, so they work offline.
# usage: vendor-npm.sh PACKAGE VERSION INTEGRITY VERSION_FILE PATH_IN_PACKAGE[:NAME]...
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=$1 version=$2 integrity=$3 version_file=$4
shift 4
dest=src/api/assets/vendor
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
( cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null )
tgz="$tmp/$pkg-$version.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$got" != "$integrity" ]; then
  echo "vendor-npm: integrity mismatch for $pkg@$version: got $got, want $integrity" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$tmp"
mkdir -p "$dest"
for spec in "$@"; do
  src="${spec%%:*}"
  name="${spec#*:}"
  [ "$name" = "$spec" ] && name="$(basename "$src")"
  cp "$tmp/package/$src" "$dest/$name"
done
echo "$version $integrity" > "$dest/$version_file"
echo "vendored $pkg@$version into $dest"
