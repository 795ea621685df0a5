# A model, then eight workers. A worker is active only once it has sent
# READY, which needs its model loaded and its registration in Redis: with
# Redis stopped, all eight stay "activating" and say why.
install_model
systemctl reset-failed 'asr-worker@*' 2>/dev/null || true
systemctl stop asr-worker@1
start=$(date +%s%N)
systemctl start asr-worker@1
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
note "asr-worker@1: systemctl start to READY took $ready_ms ms (generated model)"

systemctl stop asr-worker@1 redis-server
systemctl start --no-block asr-worker@{1..8}
sleep 3
for i in $(seq 8); do
	state=$(systemctl show -p ActiveState --value asr-worker@$i)
	status=$(systemctl show -p StatusText --value asr-worker@$i)
	[[ $state == activating && $status == "waiting for Redis"* ]] ||
		fail "asr-worker@$i without Redis: $state, status '$status'"
done
systemctl start redis-server
for _ in $(seq 100); do
	[[ $(active_workers) == "1 2 3 4 5 6 7 8" ]] && break
	sleep 0.1
done
for i in $(seq 8); do
	[[ $(systemctl show -p SubState --value asr-worker@$i) == running ]] ||
		fail "asr-worker@$i not running"
	status=$(systemctl show -p StatusText --value asr-worker@$i)
	[[ $status == "idle; 0 jobs done" ]] || fail "asr-worker@$i status '$status'"
done
pass "8 workers 'activating' until Redis let them register, then active; status '$status'"
