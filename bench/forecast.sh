#!/bin/sh
# forecast.sh times `augur forecast` against R's stats::HoltWinters as whole
# processes on the same files, in one run, and prints the speed ratio and the
# accuracy of both. Needs go, Rscript (r-base-core), python3 and GNU time.
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
# augur runs twice: as it is by default (model.Select over every candidate)
# and with --model=holtwinters, R's model (still validated on the last 20 %
# for its calibrated intervals); the target is met by the like-for-like row.
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

echo "== load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs"

# best RUNS CMD...: the fastest wall time of CMD over RUNS runs in
# nanoseconds, and that run's CPU time (user + sys, GNU time's centiseconds)
# in seconds: on a shared machine the CPU time is the steadier of the two.
best() {
	n=$1
	shift
	b=
	for _ in $(seq "$n"); do
		s=$(date +%s%N)
		/usr/bin/time -f '%U %S' -o "$work/cpu" "$@" > /dev/null 2>&1
		e=$(date +%s%N)
		t=$((e - s))
		if [ -z "$b" ] || [ "$t" -lt "$b" ]; then
			b=$t
			c=$(awk '{print $1 + $2}' "$work/cpu")
		fi
	done
	echo "$b $c"
}
ta=$(best "$runs" "$work/augur" forecast --input "$work/in" --output "$work/out-augur" --horizon 288 --log.level=warn)
th=$(best "$runs" "$work/augur" forecast --input "$work/in" --output "$work/out-augur-hw" --horizon 288 --model=holtwinters --log.level=warn)
tr=$(best "$runs" Rscript bench/forecast_r.R "$work/in" "$work/out-r" 288)

python3 - "$work" "$series" "$ta" "$th" "$tr" "$runs" <<'PY'
import csv, os, statistics, sys
work, n = sys.argv[1], int(sys.argv[2])
(ta, ca), (th, ch), (tr, cr) = ((int(a.split()[0]) / 1e9, float(a.split()[1])) for a in sys.argv[3:6])
col = lambda p, c: [float(r[c]) for r in csv.DictReader(open(p))]
mase = {"augur": [], "augur-hw": [], "r": []}
for f in sorted(os.listdir(os.path.join(work, "full"))):
    y = col(os.path.join(work, "full", f), "value")
    train, test = y[:2016], y[2016:2016 + 288]
    scale = statistics.mean(abs(train[i] - train[i - 1]) for i in range(1, len(train)))
    for k in mase:
        fc = col(os.path.join(work, "out-" + k, f), "forecast")
        mase[k].append(statistics.mean(abs(a - b) for a, b in zip(test, fc)) / scale)
print(f"{n} files, fit + 288-step forecast, whole process (fastest of {sys.argv[6]} runs)")
print(f"{'':34s} {'wall s':>8s} {'ms/series':>10s} {'x R':>6s} {'CPU s':>7s} {'x R':>6s} {'MASE':>7s}")
for name, k, t, c in (("augur forecast", "augur", ta, ca), ("augur forecast --model=holtwinters", "augur-hw", th, ch), ("R HoltWinters", "r", tr, cr)):
    print(f"{name:34s} {t:8.3f} {1000 * t / n:10.2f} {tr / t:6.1f} {c:7.2f} {cr / max(c, 0.01):6.1f} {statistics.mean(mase[k]):7.3f}")
print(f"speed vs R HoltWinters (wall): {tr / th:.1f}x with --model=holtwinters, {tr / ta:.1f}x selecting (target 30x at equal or better MASE)")
PY
