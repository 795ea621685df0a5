#!/usr/bin/env bash
# Benchmarks asr-server side by side with whisper.cpp's whisper-server and
# python3-rq on this machine (see BENCHMARKS.md). Run through "make bench",
# which builds the binaries first; it runs inside the forky build root
# unless this host has whisper.cpp. Prints the machine, the command and one
# Markdown table of figures, each with its anchor from the same run, and
# keeps a copy of all of it in build/bench/.
#
#   BENCH_QUICK=1   small repetitions, for a trial run (a few minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
quick=()
command="make bench"
if [[ ${BENCH_QUICK:-0} != 0 ]]; then
	quick=(-quick)
	command="make bench BENCH_QUICK=1"
fi
work=$(mktemp -d /tmp/asr-bench-models.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p build/bench
stamp=$(date -u +%Y%m%dT%H%M%SZ)
report=build/bench/$stamp.md

version() {
	dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"
}

describe() {
	local cpu mem
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- command: \`$command\`"
	echo "- CPU: ${cpu:-unknown}, $(nproc) cores; RAM: $mem"
	echo "- kernel: $(uname -r); system: $(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "- whisper.cpp: libwhisper1 $(version libwhisper1), whisper-server" \
		"(whisper.cpp-tools) $(version whisper.cpp-tools); redis-server" \
		"$(version redis-server); python3-rq $(version python3-rq); $(go version)"
	echo "- load average at start: $(cut -d ' ' -f 1-3 /proc/loadavg)"
	echo
}

echo "bench: generating the tiny and the base-sized model" >&2
"$BIN/asr-testmodel" -o "$work/tiny.bin"
"$BIN/asr-testmodel" -shape base -o "$work/base.bin"
speech="$(go list -m -f '{{.Dir}}' github.com/ggerganov/whisper.cpp/bindings/go)/samples/jfk.wav"

describe | tee "$report"
# The daemons' logs stay in build/bench/$stamp-logs when a measurement
# fails.
"$BIN/asr-bench" -bin "$BIN" -tiny "$work/tiny.bin" -base "$work/base.bin" \
	-speech "$speech" -work "build/bench/$stamp-logs" "${quick[@]}" | tee -a "$report"
echo "bench: report kept in $report" >&2
