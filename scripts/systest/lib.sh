# Helpers for the system test's stages, sourced inside the booted container.
# The stages run with pipefail: a reader that quits early (grep -q, head)
# would fail its pipeline with SIGPIPE, so readers consume all input.
api=http://127.0.0.1:8080
passed=0

fail() {
	echo "system-test: FAIL: $*" >&2
	exit 1
}

pass() {
	passed=$((passed + 1))
	echo "system-test: ok: $*"
}

# note prints a figure worth keeping from the run.
note() { echo "system-test: $*"; }

# job_field ID FIELD prints one top-level scalar field of a job.
job_field() {
	curl -s "$api/v1/jobs/$1" | sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" | tr -d '"'
}

# wait_state ID STATE... waits up to 5 minutes for the job to reach one of
# STATEs.
wait_state() {
	local id=$1 s
	shift
	for _ in $(seq 1500); do
		s=$(job_field "$id" state)
		for want in "$@"; do [[ $s == "$want" ]] && return 0; done
		sleep 0.2
	done
	fail "job $id is $s, want $*"
}

# submit FILE prints the id of a new job for FILE.
submit() { curl -s -F "file=@$1" "$api/v1/jobs" | sed -n 's/^{"id":"\([0-9a-f]*\)".*/\1/p'; }

# active_workers prints the instance names of the active asr-worker@ units.
active_workers() {
	systemctl list-units --plain --no-legend --state=active 'asr-worker@*.service' |
		sed -n 's/^asr-worker@\([^.]*\)\.service.*/\1/p' | sort -n | paste -sd' '
}

# apt_install ARGS... installs with apt, unattended and offline: the
# packages' dependencies wait in apt's cache.
apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		-o Dpkg::Options::=--force-confold "$@" >/tmp/apt.log 2>&1 ||
		{ tail -n 40 /tmp/apt.log; fail "apt-get install $*"; }
}

# speech N prints the name of a WAV file of N copies of jfk.wav (11 s each)
# one after another, made on first use.
speech() {
	local out=/tmp/jfk-x$1.wav files=()
	if [[ ! -f $out ]]; then
		for _ in $(seq "$1"); do files+=(/st/jfk.wav); done
		sox "${files[@]}" "$out"
	fi
	echo "$out"
}

# install_model puts the generated test model where worker.model points.
install_model() {
	install -o asr -g asr -m 0644 /st/ggml-base.bin /var/lib/asr/models/ggml-base.bin
}
