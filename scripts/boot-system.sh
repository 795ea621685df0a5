# Sourced by system-test.sh and demo.sh: boots a root directory with
# systemd as PID 1 in a throwaway overlay.
#
#   boot_system ROOT LOG NSPAWN-ARGS...
#
# sets nspawn (the systemd-nspawn process) and init (the container's
# systemd, to reach with nsenter -t "$init" -a), or returns 1 with the boot
# log printed.
boot_system() {
	local root=$1 log=$2 pid
	shift 2
	SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn --quiet --register=no --keep-unit \
		-D "$root" --volatile=overlay "$@" -b >"$log" 2>&1 &
	nspawn=$!
	# The container's init is the systemd process whose parent is nspawn.
	init=
	for _ in $(seq 100); do
		for pid in $(pgrep -P "$nspawn" -x systemd || true); do init=$pid; done
		[[ -n $init ]] && nsenter -t "$init" -a systemctl is-system-running --wait \
			>/dev/null 2>&1 && return 0
		sleep 0.3
	done
	[[ -n $init ]] && return 0
	cat "$log" >&2
	return 1
}
