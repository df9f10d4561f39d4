# lib.sh: shell helpers shared by scripts/deps.sh and scripts/notebooks.sh.
# Source it after setting `me` (the calling script's name, for messages).

die() {
	echo "$me: $*" >&2
	exit 1
}

# apt_install installs the Debian packages that are missing, as root or
# through sudo, waiting for another apt-get's lock rather than failing.
apt_install() {
	local missing=()
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get: install them by hand"
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || die "missing ${missing[*]}: run as root (or with sudo) to apt-get install them"
		sudo=(sudo -n)
	fi
	echo "$me: apt-get install ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq ||
		die "apt-get update failed"
	"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" ||
		die "apt-get install ${missing[*]} failed"
}
