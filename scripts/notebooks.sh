#!/usr/bin/env bash
# notebooks.sh executes every notebook under notebooks/ headless and fails if
# any cell fails. It first installs what they need from Debian (python3-pandas,
# python3-matplotlib, python3-requests, jupyter-nbconvert, python3-ipykernel)
# with apt-get, only when missing, the way scripts/deps.sh does.
#
# Notebooks run with Debian's /usr/bin/python3 (not whatever python3 is first
# on PATH) through nbconvert into a temporary directory, so the outputs are
# never written back into the repository. Each notebook starts its own augur
# on the embedded demo (built with `go build`) when none answers on AUGUR_URL
# and stops it at the end.
#
# Usage: scripts/notebooks.sh [NOTEBOOK.ipynb ...]   (from anywhere in the repository)
# Env:   AUGUR_SAVE_FIGURES=DIR   save each notebook's headline figure as
#                                 DIR/notebook-<name>.png (relative to the
#                                 repository root; `docs` refreshes the README's)
#        AUGUR_URL=URL            use the augur answering there; by default each
#                                 notebook starts its own on a free port, so a
#                                 developer's augur on :9477 is never picked up
#        NOTEBOOK_OUTPUT_DIR=DIR  keep the executed notebooks there (default: a
#                                 temporary folder, deleted at exit)
#        NOTEBOOK_TIMEOUT=SECONDS per-cell timeout (default 300)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=/usr/bin/python3

me=notebooks.sh
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"

apt_install python3-pandas python3-matplotlib python3-requests jupyter-nbconvert python3-ipykernel
[ -x "$python" ] || die "$python not found after installing python3 packages"
"$python" -c 'import pandas, matplotlib, requests, ipykernel, nbconvert' ||
	die "Debian's $python cannot import pandas, matplotlib, requests, ipykernel and nbconvert"
command -v go >/dev/null || die "go is needed: the notebooks build augur"

# A private kernelspec that runs Debian's interpreter whatever is on PATH
# (pyenv, venvs) or registered in ~/.local/share/jupyter (which would shadow
# a spec of the same name), so the kernel always finds pandas and matplotlib.
kernel=augur-debian-python3
work=$(mktemp -d "${TMPDIR:-/tmp}/augur-notebooks.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/kernels/$kernel" "$work/out"
cat >"$work/kernels/$kernel/kernel.json" <<EOF
{
  "argv": ["$python", "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
  "display_name": "Python 3 (Debian)",
  "language": "python"
}
EOF
export JUPYTER_PATH="$work"
out=${NOTEBOOK_OUTPUT_DIR:-$work/out}
mkdir -p "$out"
if [ -z "${AUGUR_URL:-}" ]; then
	port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	export AUGUR_URL=http://127.0.0.1:$port
fi
export MPLBACKEND=Agg
export PYTHONDONTWRITEBYTECODE=1 # no notebooks/__pycache__ from importing augur_client
# Notebooks find the repository (to build augur and read the NAB corpus) here.
export AUGUR_REPO="$repo"
if [ -n "${AUGUR_SAVE_FIGURES:-}" ]; then
	case $AUGUR_SAVE_FIGURES in
	/*) ;;
	*) AUGUR_SAVE_FIGURES=$repo/$AUGUR_SAVE_FIGURES ;;
	esac
	mkdir -p "$AUGUR_SAVE_FIGURES"
	export AUGUR_SAVE_FIGURES
fi

if [ $# -gt 0 ]; then
	notebooks=()
	for nb in "$@"; do
		[ -f "$nb" ] || die "no notebook $nb"
		notebooks+=("$(cd "$(dirname "$nb")" && pwd)/$(basename "$nb")")
	done
else
	notebooks=("$repo"/notebooks/*.ipynb)
fi
[ -e "${notebooks[0]}" ] || die "no notebooks under $repo/notebooks"

failed=()
total_start=$SECONDS
for nb in "${notebooks[@]}"; do
	start=$SECONDS
	echo "==> $(basename "$nb")" >&2
	# Run from the notebook's folder, as Jupyter does.
	if (cd "$(dirname "$nb")" && "$python" -m jupyter nbconvert --to notebook --execute \
		--ExecutePreprocessor.kernel_name="$kernel" \
		--ExecutePreprocessor.timeout="${NOTEBOOK_TIMEOUT:-300}" \
		--output-dir="$out" "$nb"); then
		echo "notebooks.sh: ok: $(basename "$nb") in $((SECONDS - start))s" >&2
	else
		echo "notebooks.sh: FAILED: $(basename "$nb") after $((SECONDS - start))s" >&2
		failed+=("$(basename "$nb")")
	fi
done
[ ${#failed[@]} -eq 0 ] || die "${#failed[@]} notebook(s) failed: ${failed[*]}"
echo "notebooks.sh: all ${#notebooks[@]} notebooks ran in $((SECONDS - total_start))s" >&2
