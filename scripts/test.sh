#!/usr/bin/env bash
# Runs every augur test. It first installs what the tests need (real
# Prometheus, Alertmanager and InfluxDB servers; see scripts/deps.sh) and
# fails loudly if it cannot. CI runs it with CI=true on a clean clone.
#
#   FUZZTIME=60s ./scripts/test.sh   # longer fuzzing of the parsers (default 15s each)
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
export PATH="$PWD/.tools/bin:$PATH"

echo "==> go vet"
go vet ./...
echo "==> go test"
go test -count=1 -timeout 30m ./...

echo "==> notebooks"
./scripts/notebooks.sh

# A target's seed corpus is run first (FuzzEndpoints' 100 seeds take about
# 5 s on two idle cores), and a -fuzztime that ends during that baseline
# can fail the run with "context deadline exceeded"; 15 s outlasts it.
echo "==> fuzzing the parsers (${FUZZTIME:=15s} each)"
for target in $(git grep -lE '^func Fuzz' -- '*_test.go'); do
	pkg="./$(dirname "$target")"
	for fn in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$target" | cut -d' ' -f2); do
		echo "--> $pkg $fn"
		go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$FUZZTIME" "$pkg"
	done
done
echo "==> all tests passed"
