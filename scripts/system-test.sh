#!/usr/bin/env bash
# System test: boots the build root with systemd as PID 1 (a throwaway
# overlay, its own network namespace), installs the .deb from bin/ as an
# operator would and checks the installed service with real values.
# Run through "make system-test", which builds the package first.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(scripts/buildroot.sh path)
deb=$(ls bin/asr-server_*.deb | tail -1)
work=$(mktemp -d /tmp/asr-system-test.XXXXXX)
nspawn=
cleanup() {
	[[ -n $nspawn ]] && kill "$nspawn" 2>/dev/null && wait "$nspawn" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

speech="$(go list -m -f '{{.Dir}}' github.com/ggerganov/whisper.cpp/bindings/go)/samples/jfk.wav"
cp "$deb" "$work/asr-server.deb"
cp "$speech" "$work/jfk.wav"
cp scripts/system-test-inside.sh "$work/inside.sh"

SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn --quiet --register=no --keep-unit \
	-D "$ROOT" --volatile=overlay --private-network --bind-ro="$work:/st" -b \
	>"$work/boot.log" 2>&1 &
nspawn=$!

# The container's init is the systemd process whose parent is nspawn.
init=
for _ in $(seq 100); do
	for pid in $(pgrep -P "$nspawn" -x systemd || true); do init=$pid; done
	[[ -n $init ]] && nsenter -t "$init" -a systemctl is-system-running --wait \
		>/dev/null 2>&1 && break
	sleep 0.3
done
[[ -n $init ]] || { cat "$work/boot.log"; echo "system-test: container did not boot" >&2; exit 1; }
nsenter -t "$init" -a /bin/bash /st/inside.sh
