#!/usr/bin/env bash
# Manages the Debian build root that asr-worker is built and tested in.
#
# whisper.cpp is packaged from Debian forky on (libwhisper-dev), not in older
# releases. The root follows the "testing" suite, which is forky today, so
# builds that link it run inside a forky root filesystem made with
# debootstrap and entered with systemd-nspawn. The root lives outside the
# checkout (BUILDROOT, default /var/cache/asr-server/buildroot) so every
# checkout and CI run on a machine shares it; it is rebuilt when it is missing
# or when the package list below changes.
#
#   buildroot.sh ensure         create or refresh the root if needed
#   buildroot.sh run CMD ARGS   run CMD inside the root, in this checkout
#                               (read-only root, private /tmp; e.g. "run bash")
#   buildroot.sh path           print the root's directory
#   buildroot.sh system         create or refresh the system root if needed
#                               and print its directory
#
# The system root is a second, bare forky system (systemd, dbus, apt) that
# the system test and the demo boot to install the .deb the way an operator
# would. It has none of the package's dependencies installed; their .debs
# wait in its apt cache, so apt resolves them without a network.
set -euo pipefail

ROOT=${BUILDROOT:-/var/cache/asr-server/buildroot}
SUITE=${BUILDROOT_SUITE:-testing}
PACKAGES=(
	ca-certificates curl dbus ffmpeg g++ gcc golang-go libc6-dev libwhisper-dev lintian make
	pkg-config python3-openai python3-rq redis-server sox systemd systemd-sysv whisper.cpp-tools
	# debootstrap does not resolve virtual packages: this one provides
	# perl-openssl-abi-3, which lintian's dependencies need.
	perl-openssl-defaults
)
SYSROOT=${SYSROOT:-$ROOT-system}
SYSTEM_PACKAGES=(ca-certificates curl dbus sox systemd systemd-sysv)
# Fetched into the system root's apt cache: what the package depends on and
# recommends.
SYSTEM_CACHED=(ffmpeg libggml0 libwhisper1 redis-server)
STAMP=.asr-buildroot-packages

log() { printf 'buildroot: %s\n' "$*" >&2; }

wanted_stamp() { printf '%s\n' "$SUITE" "${PACKAGES[@]}"; }
system_stamp() { printf '%s\n' "$SUITE" "${SYSTEM_PACKAGES[@]}" -- "${SYSTEM_CACHED[@]}"; }

# is_current DIR STAMP: whether DIR was made from the package list STAMP.
is_current() {
	[[ -f $1/$STAMP ]] && [[ "$(cat "$1/$STAMP")" == "$2" ]]
}

need_host_tools() {
	local missing=()
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
	if ((${#missing[@]})); then
		log "installing host tools: ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

# bootstrap DIR PACKAGE...: a minimal forky system with PACKAGES in DIR.new.
bootstrap() {
	local dir=$1 tmp="$1.new" include
	shift
	need_host_tools
	rm -rf "$tmp"
	mkdir -p "$(dirname "$dir")"
	include=$(IFS=,; echo "$*")
	if ! debootstrap --variant=minbase --include="$include" "$SUITE" "$tmp" \
		>"$tmp.log" 2>&1; then
		tail -n 30 "$tmp.log" >&2
		log "debootstrap failed; full log in $tmp.log"
		exit 1
	fi
	rm -f "$tmp.log"
	# The root's own redis-server must not start when the root boots.
	rm -f "$tmp"/etc/systemd/system/multi-user.target.wants/redis-server.service
}

# install_root DIR STAMP: moves DIR.new into place, marked with STAMP.
install_root() {
	printf '%s\n' "$2" >"$1.new/$STAMP"
	rm -rf "$1"
	mv "$1.new" "$1"
	log "ready: $1 ($(. "$1/etc/os-release"; echo "$PRETTY_NAME"))"
}

create() {
	log "creating forky build root in $ROOT (about a minute, once per machine)"
	bootstrap "$ROOT" "${PACKAGES[@]}"
	install_root "$ROOT" "$(wanted_stamp)"
}

create_system() {
	log "creating forky system root in $SYSROOT (about a minute, once per machine)"
	bootstrap "$SYSROOT" "${SYSTEM_PACKAGES[@]}"
	# Index the archive and fetch the dependencies' .debs into the cache,
	# as an operator's machine would have them within reach. The archive
	# this machine reaches may serve a Release file past its Valid-Until.
	if ! systemd-nspawn --quiet --register=no --keep-unit -D "$SYSROOT.new" \
		sh -c 'apt-get update -qq -o Acquire::Check-Valid-Until=false &&
			apt-get install -y -qq --download-only "$@"' \
		sh "${SYSTEM_CACHED[@]}" >"$SYSROOT.log" 2>&1; then
		tail -n 30 "$SYSROOT.log" >&2
		log "fetching the system root's package cache failed; log in $SYSROOT.log"
		exit 1
	fi
	rm -f "$SYSROOT.log"
	install_root "$SYSROOT" "$(system_stamp)"
}

# ensure_root DIR STAMP CREATE: runs CREATE unless DIR is current. Runs hold
# a shared lock on the root for as long as they last; creating or replacing
# it takes the lock exclusively, so it waits for them.
ensure_root() {
	local fd
	mkdir -p "$(dirname "$1")"
	exec {fd}>"$1.lock"
	flock -s "$fd"
	if is_current "$1" "$2"; then
		return
	fi
	flock -u "$fd"
	flock "$fd"
	if ! is_current "$1" "$2"; then
		"$3"
	fi
	flock -s "$fd"
}

ensure() { ensure_root "$ROOT" "$(wanted_stamp)" create; }

run() {
	ensure
	need_host_tools
	local here shared modcache gocache
	here=$(pwd -P)
	modcache=$(go env GOMODCACHE 2>/dev/null || echo /root/go/pkg/mod)
	gocache="$ROOT.gocache"
	mkdir -p "$modcache" "$gocache"
	# The root is entered read-only so that several runs can share it at
	# once; what they write goes to the checkout, the module cache, the
	# root's own build cache and a private /tmp.
	local args=(
		--quiet --register=no --keep-unit --as-pid2 -D "$ROOT" --read-only
		--tmpfs=/tmp --bind="$here:$here" --chdir="$here"
		--bind="$modcache:/root/go/pkg/mod"
		--bind="$gocache:/root/.cache/go-build"
		--setenv=GOCACHE=/root/.cache/go-build
		--setenv=HOME=/root
		--setenv=GOMODCACHE=/root/go/pkg/mod
		--setenv=GOTOOLCHAIN=local
		--setenv=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	)
	# Tests read shared test data that sits beside the checkout.
	shared=$(cd "$here/.." && pwd -P)/shared
	if [[ -d $shared ]]; then
		args+=(--bind-ro="$shared:$shared")
		mkdir -p "$ROOT$shared"
	fi
	# A model named by MODEL, and the installed models, are made visible
	# at the same paths.
	if [[ -n ${MODEL:-} ]]; then
		if [[ ! -f $MODEL ]]; then
			log "MODEL=$MODEL: no such file"
			exit 1
		fi
		local model_dir
		model_dir=$(cd "$(dirname "$MODEL")" && pwd -P)
		args+=(--bind-ro="$model_dir:$model_dir")
		args+=(--setenv=MODEL="$model_dir/$(basename "$MODEL")")
		mkdir -p "$ROOT$model_dir"
	fi
	if [[ -d /var/lib/asr/models ]]; then
		args+=(--bind-ro=/var/lib/asr/models)
		mkdir -p "$ROOT/var/lib/asr/models"
	fi
	# A read-only root cannot grow mount points: make them beforehand.
	mkdir -p "$ROOT$here" "$ROOT/root/go/pkg/mod" "$ROOT/root/.cache/go-build"
	# The root's Go does not read the host's go env file: pass its settings.
	local var val
	for var in GOPROXY GOSUMDB GOFLAGS GONOSUMDB GOPRIVATE; do
		val=$(go env "$var" 2>/dev/null || true)
		[[ -n $val ]] && args+=(--setenv="$var=$val")
	done
	for var in CI TESTFLAGS; do
		[[ -n ${!var:-} ]] && args+=(--setenv="$var=${!var}")
	done
	# nspawn cannot clear its propagation directory when the host's /run is
	# not a tmpfs, and says so on every exit; that line is noise here.
	exec systemd-nspawn "${args[@]}" "$@" \
		2> >(grep -v --line-buffered 'nspawn/propagate' >&2)
}

# The whole command line is read before it runs, so editing this file
# while it runs does not change what a running copy does.
main() {
	case ${1:-} in
	ensure) ensure ;;
	run) shift; run "$@" ;;
	path) echo "$ROOT" ;;
	system)
		ensure_root "$SYSROOT" "$(system_stamp)" create_system
		echo "$SYSROOT"
		;;
	*) echo "usage: $0 ensure|run CMD...|path|system" >&2; exit 2 ;;
	esac
}
main "$@"; exit
