package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory is a process's resident memory, in bytes.
type Memory struct {
	RSS  int64 // resident now (VmRSS)
	Peak int64 // highest resident so far (VmHWM)
}

// ReadMemory reads the memory of process pid from /proc.
func ReadMemory(pid int) (Memory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, fmt.Errorf("bench: memory of %d: %w", pid, err)
	}
	m, err := ParseStatus(data)
	if err != nil {
		return Memory{}, fmt.Errorf("bench: memory of %d: %w", pid, err)
	}
	return m, nil
}

// ErrStatus reports a /proc/PID/status without the memory lines.
var ErrStatus = errors.New("bench: no VmRSS and VmHWM in process status")

// ParseStatus reads VmRSS and VmHWM from the text of /proc/PID/status,
// where they are lines such as "VmRSS:\t  1234 kB".
func ParseStatus(data []byte) (Memory, error) {
	var m Memory
	var rss, peak bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return Memory{}, fmt.Errorf("%w: bad line %q", ErrStatus, sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || kb < 0 || kb > 1<<40 {
			return Memory{}, fmt.Errorf("%w: bad line %q", ErrStatus, sc.Text())
		}
		if name == "VmRSS" {
			m.RSS, rss = kb<<10, true
		} else {
			m.Peak, peak = kb<<10, true
		}
	}
	if !rss || !peak {
		return Memory{}, ErrStatus
	}
	return m, nil
}

// MiB converts bytes to mebibytes.
func MiB(b int64) float64 { return float64(b) / (1 << 20) }
