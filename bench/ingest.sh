#!/usr/bin/env bash
# ingest.sh measures how fast augur reads history from real servers: samples
# per second from Prometheus (backfilled with promtool) and InfluxDB 1.8,
# end to end into augur's in-memory series, next to a plain HTTP GET +
# encoding/json decode of the same Prometheus responses, in the same run.
#
#   bench/ingest.sh            # 2,000 series x 2 weeks at 1 m (issue 3's size; ~5 min backfill)
#   SERIES=270 bench/ingest.sh # a smaller fleet
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
./scripts/deps.sh
export PATH="$repo/.tools/bin:$PATH"
AUGUR_BENCH_SERIES=${SERIES:-2000} go test -run '^$' -bench 'Benchmark(Prometheus|InfluxDB)Range' -benchtime 1x -timeout 60m ./ingest
