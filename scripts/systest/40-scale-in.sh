# 40 jobs, then scale in from 8 to 2 instances while they run: none is lost.
ids=()
for _ in $(seq 40); do ids+=("$(submit "$(speech 3)")"); done
systemctl stop asr-worker@{3..8}
[[ $(active_workers) == "1 2" ]] || fail "active after scale-in: $(active_workers)"
for id in "${ids[@]}"; do wait_state "$id" succeeded failed; done
for id in "${ids[@]}"; do
	[[ $(job_field "$id" state) == succeeded ]] || fail "job $id after scale-in"
done
pass "40 jobs all succeeded while scaling in from 8 to 2 workers"
