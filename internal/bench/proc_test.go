package bench

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

func TestProcLines(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "p.log")
	p, err := StartProc("sh", log, childEnv(), "sh", "-c",
		"sleep 0.2; echo one; echo two >&2; echo three")
	if err != nil {
		t.Fatal(err)
	}
	two := p.Await(func(s string) bool { return s == "two" })
	l, err := wait(p, two, 10*time.Second, "line two")
	if err != nil {
		t.Fatal(err)
	}
	if l.Text != "two" || l.At.Before(p.Started) {
		t.Errorf("line %+v, started %v", l, p.Started)
	}
	<-p.Done()
	if _, err := p.Exited(); err != nil {
		t.Errorf("exit: %v", err)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "one\ntwo\nthree\n" {
		t.Errorf("log = %q", data)
	}
	never := p.Await(func(string) bool { return true })
	if _, err := wait(p, never, time.Second, "anything"); !errors.Is(err, ErrExited) {
		t.Errorf("waiting on an ended process: %v, want ErrExited", err)
	}
}

func TestChildEnv(t *testing.T) {
	t.Setenv("ASR_WORKER_THREADS", "9")
	t.Setenv("NOTIFY_SOCKET", "/run/x")
	t.Setenv("BENCH_KEEP", "yes")
	env := strings.Join(childEnv("ASR_LOG_LEVEL=info"), "\n")
	for _, gone := range []string{"ASR_WORKER_THREADS=", "NOTIFY_SOCKET="} {
		if strings.Contains(env, gone) {
			t.Errorf("child environment keeps %s", gone)
		}
	}
	for _, kept := range []string{"BENCH_KEEP=yes", "ASR_LOG_LEVEL=info"} {
		if !strings.Contains(env, kept) {
			t.Errorf("child environment lacks %s", kept)
		}
	}
}

func TestNotifySocket(t *testing.T) {
	sock, err := ListenNotify(filepath.Join(t.TempDir(), "notify"))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	name, path, _ := strings.Cut(sock.Env(), "=")
	t.Setenv(name, path)
	before := time.Now()
	for _, state := range []string{"STATUS=loading", "STATUS=up\nREADY=1", "READY=1"} {
		if sent, err := daemon.SdNotify(false, state); !sent || err != nil {
			t.Fatalf("SdNotify(%q) = %v, %v", state, sent, err)
		}
	}
	select {
	case at := <-sock.Ready():
		if at.Before(before) {
			t.Errorf("ready at %v, before the message was sent at %v", at, before)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("READY=1 not seen")
	}
}

func TestParallel(t *testing.T) {
	var sum atomic.Int64
	if err := parallel(100, 7, func(i int) error { sum.Add(int64(i)); return nil }); err != nil {
		t.Fatal(err)
	}
	if sum.Load() != 4950 {
		t.Errorf("sum of 0..99 = %d, want 4950", sum.Load())
	}
	var calls atomic.Int64
	boom := errors.New("boom")
	err := parallel(1000, 1, func(i int) error {
		calls.Add(1)
		if i == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || calls.Load() != 4 {
		t.Errorf("parallel after an error: %v after %d calls, want boom after 4", err,
			calls.Load())
	}
}
