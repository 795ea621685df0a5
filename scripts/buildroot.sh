#!/usr/bin/env bash
# Manages the Debian build root that asr-worker is built and tested in.
#
# whisper.cpp is packaged from Debian forky on (libwhisper-dev), not in older
# releases; the root follows the "testing" suite, which is forky today, so builds that link it run inside a forky root filesystem made with
# debootstrap and entered with systemd-nspawn. The root lives outside the
# checkout (BUILDROOT, default /var/cache/asr-server/buildroot) so every
# checkout and CI run on a machine shares it; it is rebuilt when it is missing
# or when the package list below changes.
#
#   buildroot.sh ensure         create or refresh the root if needed
#   buildroot.sh run CMD ARGS   run CMD inside the root, in this checkout
#                               (read-only root, private /tmp; e.g. "run bash")
#   buildroot.sh path           print the root's directory
set -euo pipefail

ROOT=${BUILDROOT:-/var/cache/asr-server/buildroot}
SUITE=${BUILDROOT_SUITE:-testing}
PACKAGES=(
	ca-certificates curl dbus ffmpeg g++ gcc golang-go libc6-dev libwhisper-dev make python3-openai
	pkg-config redis-server sox systemd systemd-sysv
)
STAMP=.asr-buildroot-packages

log() { printf 'buildroot: %s\n' "$*" >&2; }

wanted_stamp() { printf '%s\n' "$SUITE" "${PACKAGES[@]}"; }

is_current() {
	[[ -f $ROOT/$STAMP ]] && [[ "$(cat "$ROOT/$STAMP")" == "$(wanted_stamp)" ]]
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

create() {
	need_host_tools
	local tmp="$ROOT.new"
	rm -rf "$tmp"
	mkdir -p "$(dirname "$ROOT")"
	log "creating forky build root in $ROOT (about a minute, once per machine)"
	local include
	include=$(IFS=,; echo "${PACKAGES[*]}")
	if ! debootstrap --variant=minbase --include="$include" "$SUITE" "$tmp" \
		>"$tmp.log" 2>&1; then
		tail -n 30 "$tmp.log" >&2
		log "debootstrap failed; full log in $tmp.log"
		exit 1
	fi
	# The root's own redis-server must not start when the root boots.
	rm -f "$tmp"/etc/systemd/system/multi-user.target.wants/redis-server.service
	wanted_stamp >"$tmp/$STAMP"
	rm -rf "$ROOT"
	mv "$tmp" "$ROOT"
	rm -f "$tmp.log"
	log "build root ready: $(. "$ROOT/etc/os-release"; echo "$PRETTY_NAME")"
}

# Runs hold a shared lock on the root for as long as they last; creating or
# replacing the root takes the lock exclusively, so it waits for them.
ensure() {
	mkdir -p "$(dirname "$ROOT")"
	exec 9>"$ROOT.lock"
	flock -s 9
	if is_current; then
		return
	fi
	flock -u 9
	flock 9
	if ! is_current; then
		create
	fi
	flock -s 9
}

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

case ${1:-} in
ensure) ensure ;;
run) shift; run "$@" ;;
path) echo "$ROOT" ;;
*) echo "usage: $0 ensure|run CMD...|path" >&2; exit 2 ;;
esac
