# Real speech through the installed service, and the job's story in the
# journal, one structured line per event.
id=$(submit /st/jfk.wav)
wait_state "$id" succeeded
curl -s "$api/v1/jobs/$id" | grep '"segments":\[{"id":0' >/dev/null || fail "no segments for $id"
[[ $(curl -s "$api/v1/jobs/$id/result?format=srt" | sed -n 1p) == 1 ]] ||
	fail "no SRT for $id"
pass "jfk.wav transcribed over HTTP through the installed service"

journalctl --sync
instance=$(journalctl -o cat --output-fields=INSTANCE "JOB_ID=$id" | sed -n 1p)
[[ $instance =~ ^[1-8]$ ]] || fail "no INSTANCE field for job $id: '$instance'"
story=$(journalctl -o verbose -u "asr-worker@$instance" "JOB_ID=$id" --no-pager)
for f in 'MESSAGE=job started' 'MESSAGE=job succeeded' ATTEMPT=1 "INSTANCE=$instance" \
	AUDIO_S=11 RTF= PRIORITY=6; do
	grep -q "$f" <<<"$story" || fail "journal of asr-worker@$instance lacks $f for $id"
done
lines=$(journalctl -o cat -u "asr-worker@$instance" "JOB_ID=$id" | wc -l)
[[ $lines == 2 ]] || fail "job $id has $lines journal lines, want 2 (started, succeeded)"
# The container's systemd has no memory controller to account with; the
# process's own figures are what an instance costs.
pid=$(systemctl show -p MainPID --value "asr-worker@$instance")
rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status")
hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status")
note "asr-worker@$instance after a job: RSS $((rss / 1024)) MiB, peak $((hwm / 1024)) MiB"
pass "journalctl -u asr-worker@$instance JOB_ID=$id: 2 lines with the job's fields"
