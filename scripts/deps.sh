#!/usr/bin/env bash
# deps.sh installs the real servers augur's integration tests run against:
#   - Debian's prometheus (prometheus + promtool) and prometheus-alertmanager
#     (prometheus-alertmanager + amtool), through apt-get, only when missing;
#   - InfluxDB 1.8.10 (the last 1.x with Flux), built from the Go module proxy
#     into .tools/bin and reused when already there.
# It is idempotent: a second run with everything present does nothing.
# It exits non-zero with a message naming what could not be installed.
#
# Usage: scripts/deps.sh            (from anywhere inside the repository)
# Env:   TOOLS_DIR  where to cache built binaries (default <repo>/.tools)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${TOOLS_DIR:-$repo/.tools}
influx_version=v1.8.10

me=deps.sh
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"

apt_install prometheus prometheus-alertmanager
for bin in prometheus promtool prometheus-alertmanager amtool; do
	command -v "$bin" >/dev/null || die "$bin not on PATH after installing its package"
done

influxd=$tools/bin/influxd
if [ ! -x "$influxd" ]; then
	command -v go >/dev/null || die "go is needed to build influxd $influx_version"
	echo "deps.sh: building influxd $influx_version into $tools/bin (takes a few minutes)" >&2
	mkdir -p "$tools/bin"
	# Build outside the repository so its go.mod does not get in the way.
	(cd "$tools" && GOBIN="$tools/bin" GOFLAGS=-buildvcs=false GO111MODULE=on \
		go install "github.com/influxdata/influxdb/cmd/influxd@$influx_version") ||
		die "cannot build influxd $influx_version"
fi
"$influxd" version >/dev/null 2>&1 || die "$influxd does not run; delete it and rerun"
echo "deps.sh: ok: $(command -v prometheus) $(command -v promtool) $(command -v prometheus-alertmanager) $influxd" >&2
