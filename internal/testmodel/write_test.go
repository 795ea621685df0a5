package testmodel

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/asr-server/asr-server/internal/engine/modelfile"
)

func write(t *testing.T, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, opts); err != nil {
		t.Fatalf("Write(%+v): %v", opts, err)
	}
	return buf.Bytes()
}

func parse(t *testing.T, b []byte) *modelfile.Model {
	t.Helper()
	m, err := modelfile.Parse(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("parse generated model: %v", err)
	}
	return m
}

func TestWriteParsesBack(t *testing.T) {
	opts := Options{Seed: 7}
	b := write(t, opts)
	m := parse(t, b)

	want := modelfile.Hparams{
		Vocab: 51864, AudioCtx: 1500, AudioState: 64, AudioHeads: 1, AudioLayers: 1,
		TextCtx: 448, TextState: 64, TextHeads: 1, TextLayers: 1, Mels: 80, Ftype: 0,
	}
	if m.Hparams != want {
		t.Errorf("hparams = %+v, want %+v", m.Hparams, want)
	}
	if m.Hparams.Multilingual() {
		t.Error("default model is multilingual, want English-only")
	}
	if m.FilterMels != 80 || m.FilterBins != 201 {
		t.Errorf("mel filters %dx%d, want 80x201", m.FilterMels, m.FilterBins)
	}
	if got, want := len(m.Tokens), 50256; got != want {
		t.Errorf("%d tokens stored, want %d", got, want)
	}
	vocab := Vocabulary(opts)
	if len(vocab) != len(m.Tokens) {
		t.Fatalf("Vocabulary has %d tokens, file %d", len(vocab), len(m.Tokens))
	}
	for i := range vocab {
		if vocab[i] != m.Tokens[i] {
			t.Fatalf("token %d: file %q, Vocabulary %q", i, m.Tokens[i], vocab[i])
		}
	}
	if got := len(m.Tensors); got != 50 {
		t.Errorf("%d tensors, want 50", got)
	}
	byName := map[string]modelfile.Tensor{}
	for _, tn := range m.Tensors {
		byName[tn.Name] = tn
	}
	for name, dims := range map[string][]int64{
		"encoder.conv1.weight":                     {3, 80, 64},
		"encoder.conv1.bias":                       {1, 64},
		"encoder.positional_embedding":             {64, 1500},
		"decoder.token_embedding.weight":           {64, 51864},
		"decoder.blocks.0.cross_attn.query.weight": {64, 64},
		"encoder.blocks.0.mlp.0.weight":            {64, 256},
	} {
		tn, ok := byName[name]
		if !ok {
			t.Errorf("tensor %s missing", name)
			continue
		}
		if !slices.Equal(tn.Dims, dims) || tn.Type != 0 {
			t.Errorf("tensor %s: dims %v type %d, want %v f32", name, tn.Dims, tn.Type, dims)
		}
	}
}

func TestWriteDeterministic(t *testing.T) {
	a := sha256.Sum256(write(t, Options{Seed: 3}))
	b := sha256.Sum256(write(t, Options{Seed: 3}))
	c := sha256.Sum256(write(t, Options{Seed: 4}))
	if a != b {
		t.Error("two models with seed 3 differ")
	}
	if a == c {
		t.Error("models with seeds 3 and 4 are identical")
	}
}

func TestMultilingual(t *testing.T) {
	opts := Options{Seed: 1, Vocab: 51865}
	m := parse(t, write(t, opts))
	if !m.Hparams.Multilingual() {
		t.Error("vocab 51865 not multilingual")
	}
	if got := len(m.Tokens); got != 50257 {
		t.Errorf("%d tokens, want 50257", got)
	}
	if timestampBegin(51865) != 50364 || timestampBegin(51866) != 50365 {
		t.Error("timestamp tokens misplaced for multilingual vocabularies")
	}
}

func TestVocabulary(t *testing.T) {
	words := Vocabulary(Options{})
	seen := map[string]bool{}
	readable := regexp.MustCompile(`^ [a-z]+$`)
	for i, w := range words {
		if seen[w] {
			t.Fatalf("token %d %q repeated", i, w)
		}
		seen[w] = true
		if i >= len(specialTokens) && !readable.MatchString(w) {
			t.Fatalf("token %d %q is not a space and a lower-case word", i, w)
		}
	}
	for _, need := range []string{" ", " -", " '"} {
		if !seen[need] {
			t.Errorf("vocabulary lacks %q, which whisper.cpp looks up", need)
		}
	}
}

func TestShapes(t *testing.T) {
	base, err := BaseSized(1).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(tensors(base)), 7+15*6+4+24*6; got != want {
		t.Errorf("base-sized model has %d tensors, want %d", got, want)
	}
	for _, bad := range []Options{
		{State: 64, AudioHeads: 3},
		{Vocab: 1000},
		{TextLayers: -1},
	} {
		if err := Write(&bytes.Buffer{}, bad); !errors.Is(err, ErrOptions) {
			t.Errorf("Write(%+v) = %v, want ErrOptions", bad, err)
		}
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.bin")
	if err := WriteFile(path, Options{Seed: 2}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, write(t, Options{Seed: 2})) {
		t.Error("WriteFile and Write disagree")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the model", len(entries))
	}

	missing := filepath.Join(dir, "no", "model.bin")
	if err := WriteFile(missing, Options{}); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
	if err := WriteFile(filepath.Join(dir, "bad.bin"), Options{Vocab: 5}); err == nil {
		t.Error("WriteFile with bad options succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("failed writes left %d entries", len(entries)-1)
	}
}

// TestBaseSizedMatchesBase checks that a base-sized model has the
// hyper-parameters of whisper's ggml-base.en, weights aside.
func TestBaseSizedMatchesBase(t *testing.T) {
	o, err := BaseSized(5).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	got := [...]int{o.Vocab, o.AudioCtx, o.State, o.AudioHeads, o.AudioLayers, o.TextCtx,
		o.TextHeads, o.TextLayers, o.Mels}
	want := [...]int{51864, 1500, 512, 8, 6, 448, 8, 6, 80}
	if got != want {
		t.Errorf("base-sized hyper-parameters %v, want %v", got, want)
	}
	if o.Seed != 5 {
		t.Errorf("seed %d, want 5", o.Seed)
	}
}
