//go:build linux && cgo

package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// vadModel returns the Silero VAD model shipped with the project's shared
// test data, beside the checkout.
func vadModel(t *testing.T) string {
	t.Helper()
	path, err := filepath.Abs("../../../shared/data/silero-vad-v6.2.0-ggml.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("VAD model missing (shared/data beside the checkout): %v", err)
	}
	return path
}

// vadEngine loads the test model with voice activity detection.
func vadEngine(t *testing.T) *Engine {
	t.Helper()
	e, err := Load(modelPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if err := e.UseVAD(vadModel(t)); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestVADSilenceAndNoiseGiveNoSegments(t *testing.T) {
	e := vadEngine(t)
	silence := make([]float32, 10*SampleRate)
	noise := make([]float32, 10*SampleRate)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = float32(rng.NormFloat64() * 0.003)
	}
	for name, samples := range map[string][]float32{"silence": silence, "faint noise": noise} {
		res, err := e.Transcribe(context.Background(), samples, Params{VAD: true}, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(res.Segments) != 0 || res.Text != "" || res.Duration != 10 {
			t.Errorf("%s: %d segments %q, duration %v", name, len(res.Segments), res.Text,
				res.Duration)
		}
	}
	// Without VAD the stand-in model invents words for the same silence,
	// which is what VAD is for.
	res, err := e.Transcribe(context.Background(), silence, Params{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("silence without VAD: %d segments", len(res.Segments))
}

func TestVADKeepsTimesOfTheOriginalAudio(t *testing.T) {
	e := vadEngine(t)
	// 5 s of silence, jfk, 20 s of silence, jfk: 47 s in all.
	var samples []float32
	samples = append(samples, make([]float32, 5*SampleRate)...)
	samples = append(samples, jfk...)
	samples = append(samples, make([]float32, 20*SampleRate)...)
	samples = append(samples, jfk...)
	res, err := e.Transcribe(context.Background(), samples, Params{VAD: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// jfk's speech starts at 0.32 s and ends at 10.62 s; VAD pads a little.
	speech := e.lastSpeech
	if len(speech) < 2 {
		t.Fatalf("speech spans %v", speech)
	}
	first, last := speech[0], speech[len(speech)-1]
	if first[0] < 500 || first[0] > 540 || last[1] < 4500 || last[1] > 4700 {
		t.Errorf("speech spans %v (10 ms units): want the first to start near 5.32 s "+
			"and the last to end near 46.6 s", speech)
	}
	for _, s := range speech {
		if s[0] > 1700 && s[0] < 3600 || s[1] > 1720 && s[1] < 3600 {
			t.Errorf("speech span %v lies in the 20 s of silence (16.0 s to 36.0 s)", s)
		}
	}
	if len(res.Segments) == 0 {
		t.Fatal("no segments")
	}
	for _, s := range res.Segments {
		if s.Start < 5.0 || s.End > 47 {
			t.Errorf("segment %+v outside the speech (5.0 s to 47 s)", s)
		}
	}
}

func TestUseVADRejectsBadModels(t *testing.T) {
	e, err := Load(modelPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.bin")
	os.WriteFile(garbage, []byte("not a model at all"), 0o600)
	for _, path := range []string{filepath.Join(dir, "absent.bin"), garbage, modelPath} {
		if err := e.UseVAD(path); !errors.Is(err, ErrModel) {
			t.Errorf("UseVAD(%s) = %v, want ErrModel", path, err)
		}
	}
}
