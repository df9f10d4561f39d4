#!/bin/sh
# forecast.sh times `augur forecast` against R's stats::HoltWinters as whole
# processes on the same files, in one run, and prints the speed ratio and the
# accuracy of both. Needs go, Rscript (r-base-core) and python3.
#
#   bench/forecast.sh [SERIES] [RUNS]     (defaults 200, 3)
#
# Each series is bench/hwbench's (a week at 5 minutes, period 288, then the
# next day): both tools read the week from its own CSV file, forecast 288
# steps (augur with 95 % intervals, R without, see forecast_r.R) and write a
# CSV file per series; the forecasts
# are scored by MASE against the held-out day (scale: in-sample MAE of the
# naive forecast). Times are wall clock of the whole command (process start,
# CSV parsing, model selection or fit, output), the fastest of RUNS.
set -eu
cd "$(dirname "$0")/.."
series=${1:-200}
runs=${2:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/augur" ./cmd/augur
go build -o "$work/hwbench" ./bench/hwbench
"$work/hwbench" -gen "$work/full" -series "$series"
mkdir "$work/in"
for f in "$work"/full/*.csv; do head -n 2017 "$f" > "$work/in/$(basename "$f")"; done
echo "== $(nproc) CPU(s): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); go $(go env GOVERSION); $(Rscript --version 2>&1 | head -1)"

# best RUNS CMD...: the fastest wall time of CMD over RUNS runs, in seconds.
best() {
	n=$1
	shift
	b=
	for _ in $(seq "$n"); do
		s=$(date +%s%N)
		"$@" > /dev/null 2>&1
		e=$(date +%s%N)
		t=$((e - s))
		if [ -z "$b" ] || [ "$t" -lt "$b" ]; then b=$t; fi
	done
	echo "$b"
}
ta=$(best "$runs" "$work/augur" forecast --input "$work/in" --output "$work/out-augur" --horizon 288 --log.level=warn)
tr=$(best "$runs" Rscript bench/forecast_r.R "$work/in" "$work/out-r" 288)

python3 - "$work" "$series" "$ta" "$tr" "$runs" <<'PY'
import csv, os, statistics, sys
work, n, ta, tr = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) / 1e9, int(sys.argv[4]) / 1e9
col = lambda p, c: [float(r[c]) for r in csv.DictReader(open(p))]
mase = {"augur": [], "r": []}
for f in sorted(os.listdir(os.path.join(work, "full"))):
    y = col(os.path.join(work, "full", f), "value")
    train, test = y[:2016], y[2016:2016 + 288]
    scale = statistics.mean(abs(train[i] - train[i - 1]) for i in range(1, len(train)))
    for k in mase:
        fc = col(os.path.join(work, "out-" + k, f), "forecast")
        mase[k].append(statistics.mean(abs(a - b) for a, b in zip(test, fc)) / scale)
print(f"{n} files, fit + 288-step forecast, whole process (fastest of {sys.argv[5]} runs)")
print(f"{'':18s} {'total s':>9s} {'ms/series':>10s} {'MASE':>7s}")
print(f"{'augur forecast':18s} {ta:9.2f} {1000 * ta / n:10.2f} {statistics.mean(mase['augur']):7.3f}")
print(f"{'R HoltWinters':18s} {tr:9.2f} {1000 * tr / n:10.2f} {statistics.mean(mase['r']):7.3f}")
print(f"speed vs R HoltWinters: {tr / ta:.1f}x (target 30x)")
PY
