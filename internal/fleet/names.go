package fleet

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
)

const (
	unitPrefix = "asr-worker@"
	unitSuffix = ".service"
)

// UnitName returns the unit name of an instance: "3" gives
// "asr-worker@3.service".
func UnitName(instance string) string { return unitPrefix + instance + unitSuffix }

// Instance returns the instance name of an asr-worker@ unit name, and
// false for any other name, the template itself included.
func Instance(unit string) (string, bool) {
	rest, ok := strings.CutPrefix(unit, unitPrefix)
	if !ok {
		return "", false
	}
	inst, ok := strings.CutSuffix(rest, unitSuffix)
	if !ok || inst == "" {
		return "", false
	}
	return inst, true
}

// number returns an instance's number, and false when the name is not a
// decimal number.
func number(inst string) (int, bool) {
	if inst == "" || inst[0] < '0' || inst[0] > '9' {
		return 0, false
	}
	n, err := strconv.Atoi(inst)
	return n, err == nil
}

// compareInstances orders numbers numerically before other names, which
// sort lexically; equal numbers ("3", "03") fall back to the names.
func compareInstances(a, b string) int {
	na, aok := number(a)
	nb, bok := number(b)
	switch {
	case aok && bok && na != nb:
		return cmp.Compare(na, nb)
	case aok != bok:
		if aok {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// isRunning says whether a unit counts as running: active (or reloading,
// refreshing) or on its way there. A unit waiting to be restarted after a
// crash is activating too: counting it keeps Scale from starting another
// instance beside each one that crash-loops.
func isRunning(u sdbus.UnitStatus) bool {
	switch u.ActiveState {
	case "active", "activating", "reloading", "refreshing":
		return true
	case "deactivating":
		// Stopping on its way back up (systemctl restart, or the package's
		// upgrade): counting it keeps Scale and the autoscaler from starting
		// a replacement beside it, over autoscaler.max.
		return u.JobType == "restart" || u.JobType == "start"
	}
	return false
}

// isHeld says whether a unit's number is taken: it runs, is still
// stopping, or has a job queued.
func isHeld(u sdbus.UnitStatus) bool {
	switch u.ActiveState {
	case "inactive", "failed":
		return u.JobId != 0
	}
	return true
}

// running returns the instances of the running units, sorted.
func running(units []sdbus.UnitStatus) []string {
	var out []string
	for _, u := range units {
		if inst, ok := Instance(u.Name); ok && isRunning(u) {
			out = append(out, inst)
		}
	}
	slices.SortFunc(out, compareInstances)
	return out
}

// free returns the k lowest numbers from 1 on that no unit holds.
func free(units []sdbus.UnitStatus, k int) []string {
	held := map[int]bool{}
	for _, u := range units {
		inst, ok := Instance(u.Name)
		if !ok || !isHeld(u) {
			continue
		}
		if n, ok := number(inst); ok {
			held[n] = true
		}
	}
	out := make([]string, 0, k)
	for n := 1; len(out) < k; n++ {
		if !held[n] {
			out = append(out, strconv.Itoa(n))
		}
	}
	return out
}
