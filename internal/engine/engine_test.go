//go:build linux && cgo

package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/asr-server/asr-server/internal/testmodel"
)

// Shared by the tests: the English-only test model, loaded once in
// TestMain with its log and the process's stderr captured, and jfk.wav.
var (
	modelOpts  = testmodel.Options{Seed: 5}
	modelPath  string
	shared     *Engine
	jfk        []float32
	loadLog    bytes.Buffer
	loadStderr string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "engine-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := setup(dir); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		return 1
	}
	defer shared.Close()
	return m.Run()
}

// setup writes and loads the model and transcribes jfk.wav once, with
// stderr redirected to a file, so that TestLogRouted can check that no
// native output bypassed the logger.
func setup(dir string) error {
	var err error
	if jfk, err = readJFK(); err != nil {
		return err
	}
	modelPath = filepath.Join(dir, "tiny-test.bin")
	if err := testmodel.WriteFile(modelPath, modelOpts); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(&loadLog, &slog.HandlerOptions{Level: slog.LevelDebug}))

	return captureStderr(dir, func() error {
		if shared, err = Load(modelPath, logger); err != nil {
			return err
		}
		_, err := shared.Transcribe(context.Background(), jfk, Params{}, nil)
		return err
	})
}

// captureStderr runs fn with file descriptor 2 pointing at a file and
// stores what was written there in loadStderr.
func captureStderr(dir string, fn func() error) error {
	f, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		return err
	}
	defer f.Close()
	saved, err := syscall.Dup(2)
	if err != nil {
		return err
	}
	if err := syscall.Dup3(int(f.Fd()), 2, 0); err != nil {
		return err
	}
	fnErr := fn()
	if err := syscall.Dup3(saved, 2, 0); err != nil {
		return err
	}
	syscall.Close(saved)
	b, err := os.ReadFile(f.Name())
	if err != nil {
		return err
	}
	loadStderr = string(b)
	return fnErr
}

// readJFK decodes samples/jfk.wav of the whisper.cpp bindings module: 11 s
// of speech as 16 kHz mono 16-bit PCM.
func readJFK() ([]float32, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}",
		"github.com/ggerganov/whisper.cpp/bindings/go").Output()
	if err != nil {
		return nil, fmt.Errorf("locate whisper.cpp bindings: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "samples", "jfk.wav"))
	if err != nil {
		return nil, err
	}
	return decodeWAV(b)
}

// decodeWAV decodes a RIFF WAVE file of 16 kHz mono 16-bit PCM.
func decodeWAV(b []byte) ([]float32, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errors.New("not a WAVE file")
	}
	var format bool
	for b = b[12:]; len(b) >= 8; {
		id, size := string(b[:4]), int(binary.LittleEndian.Uint32(b[4:8]))
		b = b[8:]
		if size > len(b) {
			return nil, fmt.Errorf("chunk %q truncated", id)
		}
		body := b[:size]
		switch id {
		case "fmt ":
			le := binary.LittleEndian
			if size < 16 || le.Uint16(body) != 1 || le.Uint16(body[2:]) != 1 ||
				le.Uint32(body[4:]) != SampleRate || le.Uint16(body[14:]) != 16 {
				return nil, errors.New("not 16 kHz mono 16-bit PCM")
			}
			format = true
		case "data":
			if !format {
				return nil, errors.New("data before fmt chunk")
			}
			samples := make([]float32, size/2)
			for i := range samples {
				samples[i] = float32(int16(binary.LittleEndian.Uint16(body[2*i:]))) / 32768
			}
			return samples, nil
		}
		b = b[size+size%2:]
	}
	return nil, errors.New("no data chunk")
}

// composedOf tells whether text is a concatenation of vocabulary entries.
// Whisper.cpp's segment text starts with the space of its first token,
// which Transcribe trims, so text may also lack its first character.
func composedOf(text string, vocab map[string]bool, maxLen int) bool {
	for _, s := range []string{text, " " + text} {
		ok := make([]bool, len(s)+1)
		ok[0] = true
		for i := 1; i <= len(s); i++ {
			for j := max(0, i-maxLen); j < i && !ok[i]; j++ {
				ok[i] = ok[j] && vocab[s[j:i]]
			}
		}
		if ok[len(s)] {
			return true
		}
	}
	return false
}

func TestTranscribeJFK(t *testing.T) {
	var progress []int
	res, err := shared.Transcribe(context.Background(), jfk, Params{Threads: 2},
		func(p int) { progress = append(progress, p) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Duration != 11 {
		t.Errorf("duration %v, want 11.0", res.Duration)
	}
	if res.Language != "en" || res.Model != "tiny-test.bin" {
		t.Errorf("language %q model %q, want en tiny-test.bin", res.Language, res.Model)
	}
	if len(res.Segments) == 0 {
		t.Fatal("no segments")
	}

	vocab := map[string]bool{}
	maxLen := 0
	for _, w := range testmodel.Vocabulary(modelOpts) {
		vocab[w] = true
		maxLen = max(maxLen, len(w))
	}
	var texts []string
	for i, s := range res.Segments {
		if s.ID != i || s.Start < 0 || s.Start >= s.End || s.End > res.Duration {
			t.Errorf("segment %d: id %d, %.3f to %.3f s of %.3f", i, s.ID, s.Start, s.End,
				res.Duration)
		}
		if s.Text == "" || s.Text != strings.TrimSpace(s.Text) {
			t.Errorf("segment %d: text %q empty or untrimmed", i, s.Text)
		}
		if !composedOf(s.Text, vocab, maxLen) {
			t.Errorf("segment %d: %q is not made of vocabulary tokens", i, s.Text)
		}
		texts = append(texts, s.Text)
	}
	if want := strings.Join(texts, " "); res.Text != want {
		t.Errorf("text %q, want segments joined: %q", res.Text, want)
	}
	if len(progress) == 0 || progress[len(progress)-1] != 100 {
		t.Errorf("progress %v, want it to end at 100", progress)
	}
	for _, p := range progress {
		if p < 0 || p > 100 {
			t.Errorf("progress %d out of range", p)
		}
	}
	t.Logf("%d segments: %q", len(res.Segments), res.Text)
}

func TestComposedOf(t *testing.T) {
	vocab := map[string]bool{" ba": true, " be": true, "-": true}
	for text, want := range map[string]bool{
		"ba be":   true,
		"ba- be":  true,
		"ba  be":  false,
		"bab":     false,
		"ba bebe": false,
		"":        true,
	} {
		if got := composedOf(text, vocab, 3); got != want {
			t.Errorf("composedOf(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestLogRouted(t *testing.T) {
	log := loadLog.String()
	for _, want := range []string{
		"level=DEBUG msg=\"load_backend: loaded CPU backend from ",
		"level=DEBUG msg=\"whisper_model_load: n_vocab       = 51864\" component=whisper.cpp",
		"msg=transcribed",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(log, "\\n\"") {
		t.Error("log lines keep their trailing newline")
	}
	if loadStderr != "" {
		t.Errorf("native libraries wrote to stderr:\n%s", loadStderr)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noise := make([]byte, 4096)
	for i := range noise {
		noise[i] = byte(i*7919 + i/13)
	}
	unreadable := file("unreadable.bin", good[:100])
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "missing.bin"), "no such file"},
		{"directory", dir, "not a regular file"},
		{"random bytes", file("noise.bin", noise), "bad magic"},
		{"empty", file("empty.bin", nil), "bad magic"},
		{"header only", file("header.bin", good[:48]), "truncated"},
		{"cut in vocabulary", file("vocab.bin", good[:200_000]), "truncated"},
		{"cut in weights", file("weights.bin", good[:len(good)/2]), "truncated"},
		{"last byte missing", file("last.bin", good[:len(good)-1]), "truncated"},
		{"unreadable", unreadable, "permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "unreadable" && os.Geteuid() == 0 {
				t.Skip("root reads any file")
			}
			e, err := Load(tc.path, nil)
			if err == nil {
				e.Close()
				t.Fatal("Load succeeded")
			}
			var le *LoadError
			if !errors.Is(err, ErrModel) || !errors.As(err, &le) {
				t.Errorf("error %v does not match ErrModel and *LoadError", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "engine: load model "+tc.path+": ") ||
				!strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want path %s and %q", msg, tc.path, tc.want)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing.bin"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing model: %v does not match fs.ErrNotExist", err)
	}
}

func TestTooShort(t *testing.T) {
	for _, tc := range []struct {
		samples []float32
		want    string
	}{
		{nil, "0.00 s"},
		{jfk[:SampleRate/5], "0.20 s"},
		{jfk[:MinSamples-1], "1.00 s of audio"},
	} {
		_, err := shared.Transcribe(context.Background(), tc.samples, Params{}, nil)
		if !errors.Is(err, ErrAudioTooShort) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d samples: %v, want ErrAudioTooShort with %q", len(tc.samples), err, tc.want)
		}
	}
	_, err := shared.Transcribe(context.Background(), jfk[:MinSamples], Params{}, nil)
	if err != nil {
		t.Errorf("exactly 1.0 s: %v", err)
	}
}

func TestCancel(t *testing.T) {
	long := append(append(append([]float32{}, jfk...), jfk...), jfk...)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := shared.Transcribe(ctx, jfk, Params{}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: %v", err)
	}

	// Cancel once the second 30 s window starts: whisper.cpp must not
	// encode it.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	var calls []int
	_, err := shared.Transcribe(ctx, long, Params{}, func(p int) {
		calls = append(calls, p)
		if p > 0 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled during: %v (progress %v)", err, calls)
	}
	if len(calls) < 2 || calls[len(calls)-1] == 100 {
		t.Errorf("progress %v: want a second window and no completion", calls)
	}

	// The abort flag must not leak into the next transcription.
	if _, err := shared.Transcribe(context.Background(), jfk, Params{}, nil); err != nil {
		t.Errorf("after cancellation: %v", err)
	}
}

func TestLanguage(t *testing.T) {
	for lang, ok := range map[string]bool{
		"": true, "auto": true, "en": true, "EN": true, "english": true,
		"de": false, "xx": false,
	} {
		res, err := shared.Transcribe(context.Background(), jfk, Params{Language: lang}, nil)
		if ok && (err != nil || res.Language != "en") {
			t.Errorf("language %q: %v, %q", lang, err, res.Language)
		}
		if !ok && !errors.Is(err, ErrLanguage) {
			t.Errorf("language %q: %v, want ErrLanguage", lang, err)
		}
	}
}

func TestMultilingual(t *testing.T) {
	path := filepath.Join(t.TempDir(), "multi.bin")
	if err := testmodel.WriteFile(path, testmodel.Options{Seed: 4, Vocab: 51865}); err != nil {
		t.Fatal(err)
	}
	e, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if info := e.Info(); !info.Multilingual || info.Name != "multi.bin" || info.State != 64 {
		t.Errorf("info %+v", info)
	}
	res, err := e.Transcribe(context.Background(), jfk, Params{Language: "german"}, nil)
	if err != nil || res.Language != "de" || res.LanguageProbability != 0 {
		t.Errorf("german: %v, language %q (p %v)", err, res.Language, res.LanguageProbability)
	}
	res, err = e.Transcribe(context.Background(), jfk, Params{Language: "auto"}, nil)
	if err != nil || res.Language == "" || !(res.LanguageProbability > 0 &&
		res.LanguageProbability <= 1) {
		t.Errorf("auto: %v, language %q (p %v)", err, res.Language, res.LanguageProbability)
	}
	t.Logf("detected %q with probability %v", res.Language, res.LanguageProbability)
	_, err = e.Transcribe(context.Background(), jfk, Params{Language: "xx"}, nil)
	if !errors.Is(err, ErrLanguage) {
		t.Errorf("xx: %v, want ErrLanguage", err)
	}
}

func TestConcurrentAndClose(t *testing.T) {
	e, err := Load(modelPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = e.Transcribe(context.Background(), jfk, Params{Threads: 1}, nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("transcription %d: %v", i, err)
		}
	}
	e.Close()
	e.Close()
	_, err = e.Transcribe(context.Background(), jfk, Params{}, nil)
	if !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
