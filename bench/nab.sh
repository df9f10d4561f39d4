#!/bin/sh
# nab.sh measures forecast accuracy on NAB's real series in one run: augur
# backtest, and R's HoltWinters, forecast::ets and seasonal naive with the
# same split (last 20% held out) and lead times (one step, one hour), then
# prints them side by side with the sums over files and the targets of
# issue 4. Needs go, Rscript with r-cran-forecast, python3. R's ets takes
# several minutes; the two halves of the files run in parallel.
#
#   bench/nab.sh [NAB_DATA_DIR]     (default ../shared/datasets/nab/data)
set -eu
cd "$(dirname "$0")/.."
data=$(cd "${1:-../shared/datasets/nab/data}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/augur" ./cmd/augur
inputs=""
for d in "$data"/real*; do inputs="$inputs --input=$d"; done
# shellcheck disable=SC2086
"$work/augur" backtest $inputs --horizon=1h --holdout=0.2 --format=csv > "$work/augur.csv"

ls "$data"/real*/*.csv > "$work/files"
split -n r/2 "$work/files" "$work/part."
for p in "$work"/part.*; do
	# shellcheck disable=SC2046
	Rscript bench/nab_r.R 0.2 3600 "$data" $(cat "$p") > "$p.csv" 2> "$p.err" &
done
wait
{ head -n 1 "$work/part.aa.csv"; for p in "$work"/part.*.csv; do tail -n +2 "$p"; done; } > "$work/r.csv"
python3 bench/compare_nab.py "$work/augur.csv" "$work/r.csv"
