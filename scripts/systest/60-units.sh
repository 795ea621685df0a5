# The units as shipped: systemd-analyze verify is clean and security rates
# each 2.0 or lower.
for unit in asr-api.service asr-worker@1.service; do
	systemd-analyze verify "/usr/lib/systemd/system/${unit/@1/@}" ||
		fail "systemd-analyze verify $unit"
	exposure=$(systemd-analyze security --no-pager "$unit" |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	note "$unit exposure $exposure"
	awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.0) }' ||
		fail "$unit: systemd-analyze security exposure ${exposure:-unknown}, want 2.0 or lower"
done
pass "both units verify and rate 2.0 or lower in systemd-analyze security"
