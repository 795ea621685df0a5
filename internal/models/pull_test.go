package models

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/testmodel"
)

var (
	modelOnce  sync.Once
	modelBytes []byte
)

// generated returns a small whisper model with random weights.
func generated(t *testing.T) []byte {
	t.Helper()
	modelOnce.Do(func() {
		var b bytes.Buffer
		if err := testmodel.Write(&b, testmodel.Options{Seed: 7}); err != nil {
			panic(err)
		}
		modelBytes = b.Bytes()
	})
	return modelBytes
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// withCatalogEntry adds m to the catalog for one test.
func withCatalogEntry(t *testing.T, m Model) {
	t.Helper()
	saved := catalog
	catalog = append(append([]Model(nil), catalog...), m)
	t.Cleanup(func() { catalog = saved })
}

// modelServer serves one file at /ggml-NAME.bin with Range support, and
// records the Range header and the bytes sent of each request.
type modelServer struct {
	mu     sync.Mutex
	body   []byte
	ranges []string
	sent   []int
	// abortAfter, when positive, makes the next response break the
	// connection after that many bytes of body.
	abortAfter int
	// ignoreRange makes the server answer 200 with the whole file.
	ignoreRange bool
	status      int
}

func (s *modelServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	body, abort, status := s.body, s.abortAfter, s.status
	s.abortAfter = 0
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	s.sent = append(s.sent, 0)
	idx := len(s.sent) - 1
	s.mu.Unlock()
	if status != 0 {
		http.Error(w, "nope", status)
		return
	}
	if s.ignoreRange {
		r.Header.Del("Range")
	}
	cw := &countingWriter{ResponseWriter: w, limit: abort}
	defer func() {
		s.mu.Lock()
		s.sent[idx] = cw.n
		s.mu.Unlock()
	}()
	http.ServeContent(cw, r, "", time.Time{}, bytes.NewReader(body))
}

type countingWriter struct {
	http.ResponseWriter
	n, limit int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.limit > 0 && w.n+len(p) > w.limit {
		p = p[:w.limit-w.n]
		w.ResponseWriter.Write(p)
		w.n += len(p)
		http.NewResponseController(w.ResponseWriter).Flush()
		panic(http.ErrAbortHandler)
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += n
	return n, err
}

func (s *modelServer) requests() ([]string, []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...), append([]int(nil), s.sent...)
}

// setup starts a server for body and returns a Puller whose directory
// holds an older model file for name.
func setup(t *testing.T, name string, body []byte) (*modelServer, *Puller, []byte) {
	t.Helper()
	srv := &modelServer{body: body}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	p := &Puller{BaseURL: hs.URL + "/models/", Dir: t.TempDir()}
	old := []byte("the model that was installed before")
	if err := os.WriteFile(p.Path(name), old, 0o644); err != nil {
		t.Fatal(err)
	}
	return srv, p, old
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func assertNoPartial(t *testing.T, p *Puller, name string) {
	t.Helper()
	if _, err := os.Stat(p.Path(name) + PartialSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("partial file left behind: %v", err)
	}
}

func TestPullInstallsVerifiedModel(t *testing.T) {
	model := generated(t)
	withCatalogEntry(t, Model{"test", int64(len(model)), sum(model)})
	srv, p, _ := setup(t, "test", model)
	var last [2]int64
	calls := 0
	inst, err := p.Pull(context.Background(), Request{Name: "ggml-test.bin",
		Progress: func(done, total int64) { last = [2]int64{done, total}; calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	want := Installed{Name: "test", Path: p.Path("test"), Size: int64(len(model)),
		SHA256: sum(model)}
	if *inst != want {
		t.Errorf("installed %+v, want %+v", *inst, want)
	}
	if !bytes.Equal(readFile(t, p.Path("test")), model) {
		t.Errorf("installed file differs from the served model")
	}
	if last != [2]int64{int64(len(model)), int64(len(model))} || calls < 2 {
		t.Errorf("last progress %v after %d calls", last, calls)
	}
	if ranges, _ := srv.requests(); len(ranges) != 1 || ranges[0] != "" {
		t.Errorf("requests with ranges %q, want one without", ranges)
	}
	assertNoPartial(t, p, "test")

	// Pulling it again finds it verified and downloads nothing.
	inst, err = p.Pull(context.Background(), Request{Name: "test"})
	if err != nil || !inst.AlreadyPresent {
		t.Fatalf("second pull: %+v, %v", inst, err)
	}
	if ranges, _ := srv.requests(); len(ranges) != 1 {
		t.Errorf("second pull made a request")
	}
}

func TestPullMismatchKeepsOldModel(t *testing.T) {
	model := generated(t)
	tampered := bytes.Clone(model)
	tampered[len(tampered)/2] ^= 1
	withCatalogEntry(t, Model{"test", int64(len(model)), sum(model)})
	_, p, old := setup(t, "test", tampered)
	_, err := p.Pull(context.Background(), Request{Name: "test"})
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("error %v, want ErrChecksum", err)
	}
	if !bytes.Equal(readFile(t, p.Path("test")), old) {
		t.Errorf("old model replaced")
	}
	assertNoPartial(t, p, "test")
}

func TestPullTruncatedKeepsOldModel(t *testing.T) {
	model := generated(t)
	short := model[:len(model)-1000]

	// A known model: the size the server announces gives it away.
	withCatalogEntry(t, Model{"test", int64(len(model)), sum(model)})
	_, p, old := setup(t, "test", short)
	if _, err := p.Pull(context.Background(), Request{Name: "test"}); !errors.Is(err, ErrSize) {
		t.Fatalf("error %v, want ErrSize", err)
	}
	if !bytes.Equal(readFile(t, p.Path("test")), old) {
		t.Errorf("old model replaced")
	}

	// A model known by its sum only: the sum gives it away.
	_, p, old = setup(t, "custom", short)
	_, err := p.Pull(context.Background(), Request{Name: "custom", SHA256: sum(model)})
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("error %v, want ErrChecksum", err)
	}
	if !bytes.Equal(readFile(t, p.Path("custom")), old) {
		t.Errorf("old custom model replaced")
	}
	assertNoPartial(t, p, "custom")
}

func TestPullResumesInterruptedDownload(t *testing.T) {
	model := generated(t)
	withCatalogEntry(t, Model{"test", int64(len(model)), sum(model)})
	srv, p, old := setup(t, "test", model)
	const cut = 3<<20 + 123
	srv.abortAfter = cut
	_, err := p.Pull(context.Background(), Request{Name: "test"})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("error %v, want ErrInterrupted", err)
	}
	if !bytes.Equal(readFile(t, p.Path("test")), old) {
		t.Errorf("old model replaced by an interrupted download")
	}
	partial := readFile(t, p.Path("test")+PartialSuffix)
	if !bytes.Equal(partial, model[:cut]) {
		t.Fatalf("partial file has %d bytes, want the first %d of the model", len(partial),
			cut)
	}

	var first int64 = -1
	inst, err := p.Pull(context.Background(), Request{Name: "test",
		Progress: func(done, total int64) {
			if first < 0 {
				first = done
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if inst.ResumedAt != cut || first != cut {
		t.Errorf("resumed at %d, first progress %d, want %d", inst.ResumedAt, first, cut)
	}
	ranges, sent := srv.requests()
	if len(ranges) != 2 || ranges[1] != "bytes=3145851-" || sent[1] != len(model)-cut {
		t.Errorf("requests: ranges %q, bytes sent %v; want a second request for "+
			"bytes=%d- sending %d", ranges, sent, cut, len(model)-cut)
	}
	if !bytes.Equal(readFile(t, p.Path("test")), model) {
		t.Errorf("resumed model differs from the served one")
	}
	assertNoPartial(t, p, "test")
}

func TestPullServerIgnoringRangeStartsOver(t *testing.T) {
	model := generated(t)
	withCatalogEntry(t, Model{"test", int64(len(model)), sum(model)})
	srv, p, _ := setup(t, "test", model)
	srv.ignoreRange = true
	os.WriteFile(p.Path("test")+PartialSuffix, []byte("stale bytes"), 0o644)
	inst, err := p.Pull(context.Background(), Request{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, inst.Path), model) {
		t.Errorf("model differs")
	}
	if ranges, sent := srv.requests(); ranges[0] != "bytes=11-" || sent[0] != len(model) {
		t.Errorf("ranges %q sent %v", ranges, sent)
	}
}

func TestPullCompletePartialIsInstalled(t *testing.T) {
	model := generated(t)
	withCatalogEntry(t, Model{"test", int64(len(model)), sum(model)})
	srv, p, _ := setup(t, "test", model)
	os.WriteFile(p.Path("test")+PartialSuffix, model, 0o644)
	if _, err := p.Pull(context.Background(), Request{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	if ranges, _ := srv.requests(); len(ranges) != 0 {
		t.Errorf("a complete partial file was downloaded again: %q", ranges)
	}
	if !bytes.Equal(readFile(t, p.Path("test")), model) {
		t.Errorf("model differs")
	}
}

func TestPullRefusals(t *testing.T) {
	model := generated(t)
	notModel := bytes.Repeat([]byte("not a whisper model "), 1000)

	_, p, old := setup(t, "custom", notModel)
	_, err := p.Pull(context.Background(), Request{Name: "custom"})
	if !errors.Is(err, ErrNoChecksum) {
		t.Errorf("no sum: %v, want ErrNoChecksum", err)
	}
	_, err = p.Pull(context.Background(), Request{Name: "custom", SHA256: "abc"})
	if !errors.Is(err, ErrBadChecksum) {
		t.Errorf("bad sum: %v, want ErrBadChecksum", err)
	}
	_, err = p.Pull(context.Background(), Request{Name: "custom", SHA256: sum(notModel)})
	if !errors.Is(err, ErrNotModel) {
		t.Errorf("not a model: %v, want ErrNotModel", err)
	}
	if !bytes.Equal(readFile(t, p.Path("custom")), old) {
		t.Errorf("old model replaced")
	}
	if _, err := p.Pull(context.Background(), Request{Name: "../x"}); !errors.Is(err,
		ErrBadName) {
		t.Errorf("bad name: %v", err)
	}

	srv, p, _ := setup(t, "gone", model)
	srv.status = http.StatusNotFound
	_, err = p.Pull(context.Background(), Request{Name: "gone", SHA256: sum(model)})
	if !errors.Is(err, ErrHTTP) {
		t.Errorf("404: %v, want ErrHTTP", err)
	}

	f, err := lockModel(p.Path("gone") + LockSuffix)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = p.Pull(context.Background(), Request{Name: "gone", SHA256: sum(model)})
	if !errors.Is(err, ErrBusy) {
		t.Errorf("locked partial: %v, want ErrBusy", err)
	}
}

func TestPullCanceled(t *testing.T) {
	model := generated(t)
	_, p, _ := setup(t, "custom", model)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := p.Pull(ctx, Request{Name: "custom", SHA256: sum(model),
		Progress: func(done, total int64) {
			if done > 0 {
				cancel()
			}
		}})
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want ErrInterrupted and context.Canceled", err)
	}
	if st, err := os.Stat(filepath.Join(p.Dir, "ggml-custom.bin.partial")); err != nil ||
		st.Size() == 0 || st.Size() >= int64(len(model)) {
		t.Errorf("partial after cancel: %v, %v", st, err)
	}
}

// TestPullRefusesPlantedPartial: a symbolic link or a second name at the
// partial file's path must not make a pull write outside the directory.
func TestPullRefusesPlantedPartial(t *testing.T) {
	model := generated(t)
	for _, kind := range []string{"symlink", "dangling", "hardlink"} {
		srv, p, old := setup(t, "custom", model)
		srv.ignoreRange = true
		outside := filepath.Join(t.TempDir(), "victim")
		victim := []byte("a file outside the models directory")
		partial := p.Path("custom") + PartialSuffix
		switch kind {
		case "symlink":
			os.WriteFile(outside, victim, 0o644)
			os.Symlink(outside, partial)
		case "dangling":
			victim = nil
			os.Symlink(outside, partial)
		case "hardlink":
			os.WriteFile(outside, victim, 0o644)
			os.Link(outside, partial)
		}
		_, err := p.Pull(context.Background(), Request{Name: "custom", SHA256: sum(model)})
		if !errors.Is(err, ErrUnsafe) {
			t.Errorf("%s: error %v, want ErrUnsafe", kind, err)
		}
		got, _ := os.ReadFile(outside)
		if !bytes.Equal(got, victim) {
			t.Errorf("%s: the file outside holds %d bytes, want %q", kind, len(got), victim)
		}
		if !bytes.Equal(readFile(t, p.Path("custom")), old) {
			t.Errorf("%s: the installed model changed", kind)
		}
	}
}

// TestPullServerWithoutAnswer: a server that accepts the request and
// never answers is abandoned after the stall timeout.
func TestPullServerWithoutAnswer(t *testing.T) {
	release := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer hs.Close()
	defer close(release)
	p := &Puller{BaseURL: hs.URL, Dir: t.TempDir(), StallTimeout: 100 * time.Millisecond}
	_, err := p.Pull(context.Background(), Request{Name: "custom",
		SHA256: sum(generated(t))})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("error %v, want ErrInterrupted", err)
	}
}
