#!/usr/bin/env bash
# Installs what building and testing terriens needs from the system, if missing.
#   build: cmake, a C/C++ compiler, sqlite3 and its headers (PROJ is built from source by the
#          `proj` crate's bundled_proj feature), pkg-config.
#   test (with --test): Python packages used as independent oracles, GDAL (ogr2ogr), Chromium,
#          node and the playwright-core driver (tests/browser) for the map page test, the
#          PostgreSQL server and PostGIS (tests/common/pg.rs runs a private cluster per test).
# Debian/Ubuntu only; elsewhere it says what is missing and stops.
set -euo pipefail

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v cc >/dev/null || missing+=(build-essential)
command -v c++ >/dev/null || missing+=(g++)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
[ -f /usr/include/sqlite3.h ] || missing+=(libsqlite3-dev)
command -v curl >/dev/null || missing+=(curl)
if [ "$want_test" = 1 ]; then
  command -v python3 >/dev/null || missing+=(python3)
  python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
  command -v chromium >/dev/null || missing+=(chromium)
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  # GDAL: the OGC API – Features client of tests/ogc_gdal.rs, and ogr2ogr/ogrinfo making and
  # reading the GeoPackages and Shapefiles of tests/import_formats.rs
  command -v ogr2ogr >/dev/null || missing+=(gdal-bin)
  # PostgreSQL + PostGIS: tests/common/pg.rs runs initdb/pg_ctl from the newest
  # /usr/lib/postgresql/*/bin in a temporary directory (never the system's cluster).
  # `postgresql-postgis` depends on the extension for Debian's default server
  # (postgresql-15-postgis-3 on Debian 12); `postgis` only recommends it, and recommends are
  # not installed below.
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
  ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || missing+=(postgresql-postgis)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "terriens: installing system packages: ${missing[*]}" >&2
  if ! command -v apt-get >/dev/null; then
    echo "terriens: apt-get not found; please install: ${missing[*]}" >&2
    exit 1
  fi
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$want_test" = 1 ] && ! id -u postgres >/dev/null 2>&1; then
  # PostgreSQL refuses to run as root: tests run as root run the private cluster as `postgres`
  # (Debian's postgresql-common creates that user; make it if it is gone).
  echo "terriens: creating the system user postgres" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

if ! command -v cargo >/dev/null; then
  echo "terriens: cargo not found; install Rust from https://rustup.rs" >&2
  exit 1
fi

if [ "$want_test" = 1 ]; then
  req="$(dirname "$0")/requirements-test.txt"
  if ! python3 -c "import geographiclib, mapbox_vector_tile, pmtiles, networkx, openapi_spec_validator, shapely, pyproj, schemathesis" 2>/dev/null; then
    echo "terriens: installing Python test oracles from $req" >&2
    python3 -m pip install -q --disable-pip-version-check -r "$req" 2>/dev/null \
      || python3 -m pip install -q --disable-pip-version-check --break-system-packages -r "$req"
  fi
fi

if [ "$want_test" = 1 ]; then
  # playwright-core drives the system Chromium in tests/map_page.rs (no browser download).
  browser="$(dirname "$0")/../tests/browser"
  if [ ! -d "$browser/node_modules/playwright-core" ]; then
    echo "terriens: installing the browser test driver (npm ci in tests/browser)" >&2
    (cd "$browser" && npm ci --no-audit --no-fund --silent)
  fi
fi
