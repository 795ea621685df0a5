#!/usr/bin/env bash
# System test: boots a bare forky system (scripts/buildroot.sh system) with
# systemd as PID 1, in a throwaway overlay with its own network namespace,
# installs the .deb from bin/ with apt as an operator would, and runs the
# stages in scripts/systest/ against the installed service.
# Run through "make system-test", which builds the package first.
#
#   SYSTEST_ONLY=47-watchdog,90-lifecycle   run the set-up and these stages
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^VERSION=\${VERSION:-\(.*\)}$/\1/p' scripts/build-deb.sh)
arch=$(dpkg --print-architecture)
deb=bin/asr-server_${version}_${arch}.deb
[[ -f $deb ]] || { echo "system-test: $deb missing; run make system-test" >&2; exit 1; }
ROOT=$(scripts/buildroot.sh system)
work=$(mktemp -d /tmp/asr-system-test.XXXXXX)
nspawn=
cleanup() {
	[[ -n $nspawn ]] && kill "$nspawn" 2>/dev/null && wait "$nspawn" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# A newer build of the same package, for the upgrade stage.
upgrade=${version}+systest1
if pkg-config --exists whisper 2>/dev/null; then
	VERSION=$upgrade scripts/build-deb.sh >/dev/null
else
	scripts/buildroot.sh run env VERSION="$upgrade" scripts/build-deb.sh >/dev/null
fi
mv "bin/asr-server_${upgrade}_${arch}.deb" "$work/asr-server-upgrade.deb"
cp "$deb" "$work/asr-server.deb"
cp "$(go list -m -f '{{.Dir}}' github.com/ggerganov/whisper.cpp/bindings/go)/samples/jfk.wav" \
	"$work/"
cp scripts/systest/* "$work/"
bin/asr-testmodel -o "$work/ggml-base.bin"

source scripts/boot-system.sh
boot_system "$ROOT" "$work/boot.log" --private-network --bind-ro="$work:/st" ||
	{ echo "system-test: container did not boot" >&2; exit 1; }
nsenter -t "$init" -a env SYSTEST_ONLY="${SYSTEST_ONLY:-}" /bin/bash /st/run.sh
