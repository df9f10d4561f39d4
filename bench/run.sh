#!/bin/sh
# run.sh benchmarks augur's Holt-Winters against R's stats::HoltWinters and
# statsmodels' ExponentialSmoothing on the same generated files, in one run,
# and prints per-series times, speed ratios and MASE, then the Go
# benchmarks. Needs go, Rscript (r-base-core) and Debian's
# /usr/bin/python3 with python3-statsmodels.
#
#   bench/run.sh [SERIES] [R_REPS] [SM_REPS]     (defaults 20, 10, 1)
#
# Each series: 2016 points at 5 minutes (period 288) fitted, 288 forecast
# and scored by MASE; see bench/hwbench/main.go for the data.
set -eu
cd "$(dirname "$0")/.."
series=${1:-20}
rreps=${2:-10}
smreps=${3:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/hwbench" ./bench/hwbench
"$work/hwbench" -gen "$work/data" -series "$series"
echo "== $(nproc) CPU(s): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); go $(go env GOVERSION); $(Rscript --version 2>&1 | head -1); statsmodels $(/usr/bin/python3 -c 'import statsmodels; print(statsmodels.__version__)')"
"$work/hwbench" -dir "$work/data" -reps 50 > "$work/augur.csv"
Rscript bench/ref.R "$rreps" "$work"/data/*.csv > "$work/r.csv"
/usr/bin/python3 bench/ref.py "$smreps" "$work"/data/*.csv > "$work/sm.csv"

/usr/bin/python3 - "$work/augur.csv" "$work/r.csv" "$work/sm.csv" <<'PY'
import csv, statistics, sys
load = lambda p: {r["series"]: r for r in csv.DictReader(open(p))}
a, r, s = (load(p) for p in sys.argv[1:4])
print("fit + 288-step forecast of 2016 points, period 288 (times in ms)")
print(f"{'series':8s} {'augur':>8s} {'R HW':>8s} {'statsm.':>9s} {'xR':>7s} {'xSM':>8s}  {'MASE augur':>10s} {'R':>7s} {'SM':>7s}  {'Select':>7s} {'model':>12s}")
rows = []
for n in sorted(a):
    ta, tr, ts = float(a[n]["augur_ms"]), float(r[n]["r_ms"]), float(s[n]["sm_ms"])
    ma, mr, ms, mx = (float(a[n]["augur_mase"]), float(r[n]["r_mase"]), float(s[n]["sm_mase"]), float(a[n]["augur_select_mase"]))
    rows.append((ta, tr, ts, ma, mr, ms, mx))
    print(f"{n:8s} {ta:8.3f} {tr:8.1f} {ts:9.1f} {tr/ta:7.1f} {ts/ta:8.0f}  {ma:10.3f} {mr:7.3f} {ms:7.3f}  {mx:7.3f} {a[n]['augur_select_model']:>12s}")
col = lambda i: [x[i] for x in rows]
ta, tr, ts = sum(col(0)), sum(col(1)), sum(col(2))
print(f"{'total':8s} {ta:8.3f} {tr:8.1f} {ts:9.1f} {tr/ta:7.1f} {ts/ta:8.0f}  {statistics.mean(col(3)):10.3f} {statistics.mean(col(4)):7.3f} {statistics.mean(col(5)):7.3f}  {statistics.mean(col(6)):7.3f}  (MASE: mean)")
print(f"speed vs R HoltWinters: {tr/ta:.1f}x (target 30x); vs statsmodels: {ts/ta:.0f}x (target 1000x)")
PY
"$work/hwbench" -throughput
echo "== go test -bench (model)"
go test ./model -run '^$' -bench 'FitHoltWinters|HoltWintersUpdate|HoltWintersPredictInto|BenchmarkAR|FitMSTL|Select' -benchtime 1s | grep -E '^(Benchmark|ok)'
