package bench

import (
	"errors"
	"maps"
	"os"
	"strings"
	"testing"
)

const statusSample = `Name:	asr-worker
Umask:	0022
State:	S (sleeping)
VmPeak:	 1289384 kB
VmSize:	 1289384 kB
VmHWM:	  187652 kB
VmRSS:	  180224 kB
RssAnon:	   98304 kB
Threads:	7
`

func TestParseStatus(t *testing.T) {
	m, err := ParseStatus([]byte(statusSample))
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 180224*1024 || m.Peak != 187652*1024 {
		t.Errorf("ParseStatus = %+v, want RSS %d, Peak %d", m, 180224*1024, 187652*1024)
	}
	for _, bad := range []string{
		"",
		"VmRSS:\t 12 kB\n",
		"VmHWM:\t 12 kB\n",
		"VmHWM:\t 12 MB\nVmRSS:\t 10 kB\n",
		"VmHWM:\t -12 kB\nVmRSS:\t 10 kB\n",
		"VmHWM:\t twelve kB\nVmRSS:\t 10 kB\n",
		"VmRSS:\t 10 kB\nVmRSS:\t 11 kB\n",
	} {
		if _, err := ParseStatus([]byte(bad)); !errors.Is(err, ErrStatus) {
			t.Errorf("ParseStatus(%q) = %v, want ErrStatus", bad, err)
		}
	}
}

func TestReadMemoryOfSelf(t *testing.T) {
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("own memory %+v: want 0 < RSS <= Peak", m)
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(statusSample))
	f.Add([]byte("VmHWM: 1 kB\nVmRSS: 1 kB"))
	f.Add([]byte("VmHWM:\nVmRSS:: kB"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseStatus(data)
		if err == nil && (m.RSS < 0 || m.Peak < 0 || m.RSS%1024 != 0 || m.Peak%1024 != 0) {
			t.Errorf("ParseStatus(%q) = %+v", data, m)
		}
		if err != nil && m != (Memory{}) {
			t.Errorf("ParseStatus(%q) failed but returned %+v", data, m)
		}
	})
}

func TestParseNotify(t *testing.T) {
	got := ParseNotify([]byte("STATUS=loading model a=b\nREADY=1\nnoise\n=x\nREADY=0\n"))
	want := map[string]string{"STATUS": "loading model a=b", "READY": "0"}
	if !maps.Equal(got, want) {
		t.Errorf("ParseNotify = %v, want %v", got, want)
	}
}

func FuzzParseNotify(f *testing.F) {
	f.Add([]byte("READY=1"))
	f.Add([]byte("STATUS=idle; 3 jobs done\nWATCHDOG=1\n"))
	f.Add([]byte("\n\n=\nA==B"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		vars := ParseNotify(msg)
		for name, value := range vars {
			if name == "" || strings.Contains(name, "=") || strings.Contains(name, "\n") ||
				strings.Contains(value, "\n") {
				t.Errorf("ParseNotify(%q) gave %q=%q", msg, name, value)
			}
			if !strings.Contains(string(msg), name+"="+value) {
				t.Errorf("ParseNotify(%q) gave %q=%q, not in the message", msg, name, value)
			}
		}
	})
}

func TestJobStarted(t *testing.T) {
	line := `{"time":"2026-12-04T18:00:00Z","level":"INFO","msg":"job started",` +
		`"instance":"w-1","job_id":"abc","attempt":2,"bytes":10}`
	for _, tc := range []struct {
		id      string
		attempt int
		want    bool
	}{
		{"abc", 2, true}, {"", 2, true}, {"abc", 1, false}, {"abd", 2, false},
	} {
		if got := jobStarted(line, tc.id, tc.attempt); got != tc.want {
			t.Errorf("jobStarted(line, %q, %d) = %v, want %v", tc.id, tc.attempt, got, tc.want)
		}
	}
	for _, other := range []string{
		`{"msg":"job succeeded","job_id":"abc","attempt":2}`,
		`time=x level=INFO msg="job started" job_id=abc attempt=2`,
		``,
	} {
		if jobStarted(other, "abc", 2) {
			t.Errorf("jobStarted(%q) = true", other)
		}
	}
}

func FuzzJobStarted(f *testing.F) {
	f.Add(`{"msg":"job started","job_id":"abc","attempt":1}`, "abc", 1)
	f.Add(`{"msg":"job started","attempt":"1"}`, "", 1)
	f.Fuzz(func(t *testing.T, line, id string, attempt int) {
		// A line that matches one job matches "any job" too.
		if jobStarted(line, id, attempt) && !jobStarted(line, "", attempt) {
			t.Errorf("jobStarted(%q, %q, %d) but not for any job", line, id, attempt)
		}
	})
}
