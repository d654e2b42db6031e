#!/usr/bin/env bash
# Vendors Chart.js (MIT; the diagnostic page's charts); run this only to change the pinned version.
exec "$(dirname "$0")/vendor-npm.sh" chart.js 4.6.1 \
  sha512-hJyniucsFmq//EvXYvJ6c6mahPoI3kaxdjVH8awTaJ/fDNWeSqqqArixMJWkWNN6fcYvPU3HneSANFNYtRi61g== \
  CHARTJS_VERSION dist/chart.umd.min.js LICENSE.md:chart.js-LICENSE.md
