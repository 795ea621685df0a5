#!/usr/bin/env bash
# The service as an operator runs it: boots a bare forky system with
# systemd (a throwaway overlay of scripts/buildroot.sh system, on a private
# virtual network link to this host), installs the .deb from bin/ with apt,
# starts asr-api and asr-worker@1..2 through systemctl, transcribes jfk.wav
# over HTTP from this host, prints the result, the units' status and their
# journal, and stops everything.
#
# MODEL=/path/to/ggml-model.bin installs a real whisper model; without one,
# a generated stand-in with random weights is used.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^VERSION=\${VERSION:-\(.*\)}$/\1/p' scripts/build-deb.sh)
deb=bin/asr-server_${version}_$(dpkg --print-architecture).deb
[[ -f $deb ]] || { echo "demo: $deb missing; run make run" >&2; exit 1; }

say() { printf '\n==> %s\n' "$*" >&2; }
ROOT=$(scripts/buildroot.sh system)
work=$(mktemp -d /tmp/asr-demo.XXXXXX)
machine=asrdemo$((RANDOM % 90000 + 10000))
nspawn=
cleanup() {
	if [[ -n $nspawn ]]; then
		kill "$nspawn" 2>/dev/null || true
		wait "$nspawn" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

cp "$deb" "$work/"
speech="$(go list -m -f '{{.Dir}}' github.com/ggerganov/whisper.cpp/bindings/go)/samples/jfk.wav"
model=
if [[ -n ${MODEL:-} ]]; then
	[[ -r $MODEL ]] || { echo "demo: MODEL=$MODEL is not readable" >&2; exit 1; }
	cp "$MODEL" "$work/"
	model=$(basename "$MODEL")
fi

say "booting a Debian $(. "$ROOT/etc/os-release"; echo "$VERSION_CODENAME") system with systemd"
source scripts/boot-system.sh
boot_system "$ROOT" "$work/boot.log" -M "$machine" --network-veth --bind-ro="$work:/demo" ||
	{ echo "demo: the system did not boot" >&2; exit 1; }
inside() { nsenter -t "$init" -a "$@"; }

# A point-to-point link: this host is .1, the booted system .2.
net=10.$((RANDOM % 200 + 20)).$((RANDOM % 250)).
ip addr add "${net}1/30" dev "ve-$machine"
ip link set "ve-$machine" up
# This host's ip, in the system's network namespace only.
nsenter -t "$init" -n ip addr add "${net}2/30" dev host0
nsenter -t "$init" -n ip link set host0 up

say "apt install ./$(basename "$deb")"
inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/demo/$(basename "$deb")" |
	grep -E '^Setting up (asr-server|libwhisper1|libggml0|redis-server|ffmpeg)[: ]' || true

if [[ -n $model ]]; then
	say "installing the model $model"
	inside install -o asr -g asr -m 0644 "/demo/$model" "/var/lib/asr/models/$model"
	inside sed -i "s|^model = .*|model = \"/var/lib/asr/models/$model\"|" /etc/asr/config.toml
else
	say "no MODEL given: installing a generated stand-in model with random weights"
	bin/asr-testmodel -o "$work/ggml-base.bin"
	inside install -o asr -g asr -m 0644 /demo/ggml-base.bin /var/lib/asr/models/
fi
# asr-api listens on the link to this host.
inside sed -i "s|^listen = .*|listen = \"${net}2:8080\"|" /etc/asr/config.toml
api=http://${net}2:8080

say "systemctl restart asr-api; systemctl start asr-worker@1 asr-worker@2"
inside systemctl reset-failed asr-worker@1 2>/dev/null || true
inside systemctl restart asr-api
inside systemctl start asr-worker@1 asr-worker@2

say "curl -F file=@jfk.wav $api/v1/jobs   (from this host)"
answer=$(curl -sS --max-time 10 -F "file=@$speech" "$api/v1/jobs")
echo "$answer"
id=$(printf '%s' "$answer" | sed -n 's/^{"id":"\([0-9a-f]*\)".*/\1/p')
[[ -n $id ]] || { echo "demo: no job id" >&2; exit 1; }
for _ in $(seq 600); do
	result=$(curl -sS --max-time 10 "$api/v1/jobs/$id")
	[[ $result =~ \"state\":\"(succeeded|failed|canceled)\" ]] && break
	sleep 0.2
done
say "curl $api/v1/jobs/$id"
echo "$result"
say "curl '$api/v1/jobs/$id/result?format=srt'"
curl -sS --max-time 10 "$api/v1/jobs/$id/result?format=srt" | head -n 12

say "systemctl status asr-api asr-worker@1 asr-worker@2"
inside systemctl status --no-pager --lines=0 asr-api asr-worker@1 asr-worker@2 || true
say "journalctl -o json -u 'asr-worker@*' JOB_ID=$id   (the job's log lines, with fields)"
inside journalctl --no-pager -o json -u 'asr-worker@*' "JOB_ID=$id" \
	--output-fields=MESSAGE,PRIORITY,INSTANCE,ATTEMPT,AUDIO_S,ELAPSED_S,RTF |
	sed -E 's/"(__[A-Z_]+|_BOOT_ID)":"[^"]*",?//g; s/,}$/}/'

say "systemctl stop asr-worker@1 asr-worker@2 asr-api"
inside systemctl stop asr-worker@1 asr-worker@2 asr-api
inside systemctl poweroff 2>/dev/null || true
wait "$nspawn" 2>/dev/null || true
nspawn=

if [[ $result != *'"state":"succeeded"'* ]]; then
	echo "demo: the job did not succeed" >&2
	exit 1
fi
if [[ -z $model ]]; then
	cat >&2 <<'MSG'

==> The transcript above comes from a generated stand-in model with random
    weights: the timings and the pipeline are real, the words are nonsense.
    For real words, run: make run MODEL=/path/to/ggml-base.en.bin (an
    official ggml whisper model, from the whisper.cpp project's downloads).
MSG
fi
