#!/usr/bin/env bash
# Prints the demo tour's console output shown in README.md: it starts augur
# on the embedded demo with a fixed present (--demo.start) and without the
# start-up calibration replay, so that the output is the same on every run,
# then runs the tour's commands against it.
#
#   ./scripts/readme-demo.sh            # the tour's output on stdout
#   PORT=19477 ./scripts/readme-demo.sh # another port
set -euo pipefail
cd "$(dirname "$0")/.."

start=${DEMO_START:-2026-11-22T06:18:00Z}
port=${PORT:-9477}
tmp=$(mktemp -d)
pid=
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/augur" ./cmd/augur
"$tmp/augur" serve --demo.start="$start" --calibration.replay=0 \
	--web.listen-address="127.0.0.1:$port" --storage.path="$tmp/data" \
	--log.level=warn 2>"$tmp/augur.log" &
pid=$!
for _ in $(seq 1 100); do
	curl -sf "localhost:$port/-/ready" >/dev/null && break
	kill -0 "$pid" 2>/dev/null || { cat "$tmp/augur.log" >&2; exit 1; }
	sleep 0.2
done
curl -sf "localhost:$port/-/ready" >/dev/null || { echo "augur did not become ready" >&2; exit 1; }

# show prints a command as the README shows it (port 9477), then its output.
show() {
	echo "\$ ${1//localhost:$port/localhost:9477}"
	eval "$1"
	echo
}
# first keeps the first entity and its first factor of /api/v1/failures.
first='import json,sys
d=json.load(sys.stdin); e=d["data"]["entities"][:1]
for x in e: x["factors"]=x["factors"][:1]
d["data"]["entities"]=e; print(json.dumps(d,indent=2))'

show "curl -s localhost:$port/api/v1/failures | python3 -c '$first'"
show "curl -sg 'localhost:$port/api/v1/forecast?match=memory{host=\"cache-1\"}&horizon=30m&step=10m' | python3 -m json.tool --indent 2"
show "curl -sg 'localhost:$port/api/v1/capacity?match={signal=~\"memory|connections\"}&sort=eta&limit=1&horizon=1d' | python3 -m json.tool --indent 2"
show "curl -s localhost:$port/metrics | grep cache-1"
show "curl -s 'localhost:$port/api/v1/forecast?horizon=forever'"
show "curl -sg 'localhost:$port/api/v1/forecast?match=memory{host='"
