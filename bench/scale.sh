#!/usr/bin/env bash
# scale.sh measures augur serve on demo fleets of 1k, 10k and 100k series
# (hosts × cpu, memory, connections; 14 days of history at 1 m): time to
# ready, first and full refit, one evaluation cycle, time to ready after a
# restart on the same storage, resident memory, p50/p99
# of /api/v1/failures, /api/v1/capacity?sort=eta&limit=20&horizon=30d and a
# 24 h query_range of max by (host) (augur_anomaly_score), and the embedded
# TSDB's bytes per sample. It prints a table, the per-series cost ratios
# between sizes and the issue's targets, and exits non-zero when augur fails
# (exits, answers anything but 200, is not ready in time or its anonymous
# memory outgrows MAX_RSS).
#
#   bench/scale.sh                    # 1k, 10k, 100k series on the demo source
#   SIZES="1k 10k" bench/scale.sh     # sizes: 1k, 10k, 100k or a number of series
#   bench/scale.sh --prometheus       # 10k series backfilled into a real Prometheus with promtool
#   bench/scale.sh --cluster          # 1k series shared by 1, 2 and 3 gossiping replicas (REPLICAS)
#
# --cluster starts REPLICAS (default "1 2 3") replicas on loopback for each
# size (default 1k) and prints, per replica count, the time until the first
# replica's fan-out /api/v1/failures answers for every host fitted, each
# replica's evaluation cycle and resident memory, the p50/p99 of the
# fan-out failures and capacity requests, and these against one replica.
#
# Environment: SIZES; REFIT_INTERVAL (the config's refit_interval, default
# 10m: the full refit timed is the one after the first fit); REQUESTS per
# endpoint (default 200) within BUDGET (default 60s, at least 3 requests);
# PROBES, the endpoints timed (default "failures capacity query_range");
# READY_TIMEOUT and REFIT_TIMEOUT (default 30m each); MAX_SAMPLES (augur's
# --query.max-samples, default Prometheus' 50000000, or 1,500 a series
# when that is more); REPLAY (augur's
# --calibration.replay, default 0: no second engine replaying the past);
# MAX_RSS in bytes, the cap on augur's anonymous resident memory (RssAnon:
# VmRSS also counts the TSDB's mmapped files, reclaimable page cache;
# default 70 % of the memory available at start);
# EVALUATION_INTERVAL (default 1m); RESTART=0 skips the restart of each
# size on its storage (timed to ready: the warm TSDB and the models file
# augur saved when it stopped); REPLICAS with --cluster; KEEP=1 keeps
# the work folder; RESULTS=FILE keeps the JSON lines.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

useprom=0
cluster=0
case "${1:-}" in
--prometheus) useprom=1 ;;
--cluster) cluster=1 ;;
"") ;;
*)
	echo "usage: $0 [--prometheus | --cluster]" >&2
	exit 2
	;;
esac
if ((cluster)); then
	SIZES=${SIZES:-1k}
	REPLICAS=${REPLICAS:-"1 2 3"}
elif ((useprom)); then
	SIZES=${SIZES:-10k}
	for bin in prometheus promtool; do
		command -v "$bin" >/dev/null || {
			echo "$bin not found: run scripts/deps.sh (Debian's prometheus package)" >&2
			exit 1
		}
	done
else
	SIZES=${SIZES:-"1k 10k 100k"}
fi
REFIT_INTERVAL=${REFIT_INTERVAL:-10m}
REQUESTS=${REQUESTS:-200}
BUDGET=${BUDGET:-60s}
READY_TIMEOUT=${READY_TIMEOUT:-30m}
REFIT_TIMEOUT=${REFIT_TIMEOUT:-30m}
REPLAY=${REPLAY:-0}
PROBES=${PROBES:-"failures capacity query_range"}
# The 24 h query_range over every host reads 1,441 points of each series:
# 14.4 M samples at 10k series, over augur's default --query.max-samples
# (1.5 M, 64 MiB a query); a fleet this size runs with Prometheus' default,
# and a larger one with room for its 1,441 points a series (144 M at 100k,
# which Prometheus' default refuses with a 422).
maxSamples() {
	local n=$1
	echo "${MAX_SAMPLES:-$((n * 1500 > 50000000 ? n * 1500 : 50000000))}"
}
MAX_RSS=${MAX_RSS:-$(awk '/^MemAvailable:/ {printf "%.0f", $2 * 1024 * 0.7}' /proc/meminfo)}

work=$(mktemp -d "${TMPDIR:-/tmp}/augur-scale.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	if [[ "${KEEP:-0}" == 1 ]]; then
		echo "work folder kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

go build -o "$work/augur" ./cmd/augur
go build -o "$work/scaleload" ./bench/scaleload
results=${RESULTS:-$work/results.jsonl}
: >"$results"

# revision is the commit measured, +dirty with local changes; a copy
# outside git (git archive) says so.
revision() {
	local h
	h=$(git rev-parse --short HEAD 2>/dev/null) || {
		echo "(not a git checkout)"
		return
	}
	git diff --quiet || h+=+dirty
	echo "$h"
}

echo "== $(nproc) CPU(s): $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); $(go env GOVERSION); augur $(revision)"
echo "== refit_interval $REFIT_INTERVAL, --calibration.replay=$REPLAY, $REQUESTS requests or $BUDGET per endpoint, anonymous memory cap $((MAX_RSS >> 20)) MB"

# series converts 1k, 10k, 100k or a plain number to a number of series.
series() {
	case "$1" in
	*k) echo $((${1%k} * 1000)) ;;
	*M) echo $((${1%M} * 1000000)) ;;
	*[!0-9]* | "")
		echo "bad size $1: want 1k, 10k, 100k or a number" >&2
		return 1
		;;
	*) echo "$1" ;;
	esac
}

# stop ends pid with SIGTERM (augur saves its snapshot), then SIGKILL.
stop() {
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 120); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.5
	done
	kill -KILL "$1" 2>/dev/null || true
}

# waitURL polls url until it answers 200, for at most $2 seconds.
waitURL() {
	for _ in $(seq "$(($2 * 4))"); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.25
	done
	echo "$1 not ready within $2 s" >&2
	return 1
}

signals() {
	cat <<EOF
signals:
  - {name: cpu, source: $1, query: cpu, entity: host, limit: 100}
  - {name: memory, source: $1, query: memory, entity: host, limit: 100}
  - {name: connections, source: $1, query: connections, entity: host, limit_query: max_connections}
EOF
}

global() {
	cat <<EOF
global:
  step: 1m
  history: 14d
  refit_interval: $REFIT_INTERVAL
  evaluation_interval: ${EVALUATION_INTERVAL:-1m}
EOF
}

demoConfig() {
	global
	printf 'sources:\n  - {name: demo, type: demo, seed: 1, hosts: %d}\n' "$1"
	signals demo
	printf 'incidents:\n  source: demo\n'
}

# runCluster measures size $1 on $2 hosts shared by each count of REPLICAS
# gossiping replicas (the fan-out and gossip on loopback).
runCluster() {
	local size=$1 hosts=$2 dir="$work/$1"
	mkdir -p "$dir"
	demoConfig "$hosts" >"$dir/augur.yml"
	for n in $REPLICAS; do
		local urls=() rpids=() gossip=() i
		for ((i = 0; i < n; i++)); do
			gossip+=("127.0.0.1:$("$work/scaleload" port)")
		done
		echo "== $size: $n replicas on $hosts hosts (demo source)" >&2
		started=$(date +%s.%N)
		for ((i = 0; i < n; i++)); do
			local port peer=()
			port=$("$work/scaleload" port)
			((i == 0)) || peer=(--cluster.peer="${gossip[0]}")
			"$work/augur" serve --config.file="$dir/augur.yml" --web.listen-address="127.0.0.1:$port" \
				--storage.path="$dir/data-$n-$i" --calibration.replay="$REPLAY" --query.max-samples="$(maxSamples $((hosts * 3)))" \
				--cluster.listen-address="${gossip[i]}" --cluster.instance-id="augur-$i" "${peer[@]}" \
				>"$dir/augur-$n-$i.log" 2>&1 &
			rpids+=($!)
			pids+=($!)
			urls+=("http://127.0.0.1:$port")
		done
		if ! "$work/scaleload" cluster -urls "$(IFS=,; echo "${urls[*]}")" -pids "$(IFS=,; echo "${rpids[*]}")" \
			-size "$size" -hosts "$hosts" -started "$started" -requests "$REQUESTS" -budget "$BUDGET" \
			-ready-timeout "$READY_TIMEOUT" -max-rss "$MAX_RSS" >>"$results"; then
			echo "== $size, $n replicas: failed; the end of the first replica's log:" >&2
			tail -20 "$dir/augur-$n-0.log" >&2
			"$work/scaleload" clustertable "$results" 2>/dev/null || true
			exit 1
		fi
		for p in "${rpids[@]}"; do
			stop "$p"
		done
		rm -rf "$dir"/data-*
	done
}

if ((cluster)); then
	echo "== replicas: $REPLICAS, evaluation_interval ${EVALUATION_INTERVAL:-1m}, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	for size in $SIZES; do
		n=$(series "$size")
		runCluster "$size" $(((n + 1) / 3))
	done
	echo
	"$work/scaleload" clustertable "$results"
	echo "== load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
	exit 0
fi

# serve starts augur on $dir's configuration and storage, logging to
# $dir/$1, and sets started and apid.
serve() {
	started=$(date +%s.%N)
	"$work/augur" serve --config.file="$dir/augur.yml" --web.listen-address="127.0.0.1:$port" \
		--storage.path="$dir/data" --calibration.replay="$REPLAY" --query.max-samples="$(maxSamples "$n")" >"$dir/$1" 2>&1 &
	apid=$!
	pids+=("$apid")
}

for size in $SIZES; do
	n=$(series "$size")
	hosts=$(((n + 1) / 3))
	dir="$work/$size"
	mkdir -p "$dir"
	ingestRate=0
	if ((useprom)); then
		end=$(($(date +%s) / 60 * 60))
		echo "== $size: backfilling $hosts demo hosts (14 d at 1 m) into Prometheus with promtool" >&2
		t0=$(date +%s.%N)
		"$work/scaleload" openmetrics -hosts "$hosts" -end "$end" -out "$dir/fleet.om"
		promtool tsdb create-blocks-from openmetrics --max-block-duration=486h --quiet "$dir/fleet.om" "$dir/prometheus" >/dev/null
		rm -f "$dir/fleet.om"
		echo "== $size: backfilled in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}') s" >&2
		pport=$("$work/scaleload" port)
		printf 'global:\n  scrape_interval: 1m\n' >"$dir/prometheus.yml"
		prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prometheus" \
			--storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$pport" \
			>"$dir/prometheus.log" 2>&1 &
		ppid=$!
		pids+=("$ppid")
		waitURL "http://127.0.0.1:$pport/-/ready" 600
		ingestRate=$("$work/scaleload" ingest -url "http://127.0.0.1:$pport" -end "$end")
		{
			global
			printf 'sources:\n  - {name: prom, type: prometheus, url: "http://127.0.0.1:%s"}\n' "$pport"
			signals prom
		} >"$dir/augur.yml"
		source=prometheus
	else
		demoConfig "$hosts" >"$dir/augur.yml"
		source=demo
	fi

	port=$("$work/scaleload" port)
	echo "== $size: augur serve on $hosts hosts ($source source)" >&2
	serve augur.log
	if ! "$work/scaleload" measure -url "http://127.0.0.1:$port" -pid "$apid" -log "$dir/augur.log" \
		-storage "$dir/data" -size "$size" -source "$source" -started "$started" \
		-requests "$REQUESTS" -budget "$BUDGET" -ready-timeout "$READY_TIMEOUT" -refit-timeout "$REFIT_TIMEOUT" \
		-max-rss "$MAX_RSS" -ingest-rate "$ingestRate" -probes "$PROBES" -planned $((hosts * 3)) >"$dir/result.json"; then
		cat "$dir/result.json" >>"$results"
		echo "== $size: augur failed; the end of its log:" >&2
		tail -20 "$dir/augur.log" >&2
		"$work/scaleload" table "$results" 2>/dev/null || true
		exit 1
	fi
	stop "$apid"
	if [[ "${RESTART:-1}" == 1 ]]; then
		# The same storage: a warm TSDB, and the models file augur wrote
		# when it stopped.
		echo "== $size: restarting augur on the same storage" >&2
		serve augur-restart.log
		if ! "$work/scaleload" restart -url "http://127.0.0.1:$port" -pid "$apid" -log "$dir/augur-restart.log" \
			-result "$dir/result.json" -started "$started" -ready-timeout "$READY_TIMEOUT" -max-rss "$MAX_RSS" >>"$results"; then
			echo "== $size: the restarted augur failed; the end of its log:" >&2
			tail -20 "$dir/augur-restart.log" >&2
			"$work/scaleload" table "$results" 2>/dev/null || true
			exit 1
		fi
		stop "$apid"
	else
		cat "$dir/result.json" >>"$results"
	fi
	if ((useprom)); then
		stop "$ppid"
	fi
	rm -rf "$dir/data" "$dir/prometheus"
done

echo
"$work/scaleload" table "$results"
