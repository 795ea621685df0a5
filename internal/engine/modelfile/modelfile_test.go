package modelfile_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/asr-server/asr-server/internal/engine/modelfile"
	"github.com/asr-server/asr-server/internal/testmodel"
)

func model(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := testmodel.Write(&buf, testmodel.Options{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func parse(b []byte) (*modelfile.Model, error) {
	return modelfile.Parse(bytes.NewReader(b), int64(len(b)))
}

func TestParseValid(t *testing.T) {
	b := model(t)
	m, err := parse(b)
	if err != nil {
		t.Fatal(err)
	}
	last := m.Tensors[len(m.Tensors)-1]
	if last.Offset+last.Size != int64(len(b)) {
		t.Errorf("last tensor ends at %d, file at %d", last.Offset+last.Size, len(b))
	}
}

func TestParseDamaged(t *testing.T) {
	b := model(t)
	m, err := parse(b)
	if err != nil {
		t.Fatal(err)
	}
	emb := m.Tensors[len(m.Tensors)/2]
	patched := func(off int, v int32) []byte {
		c := bytes.Clone(b)
		binary.LittleEndian.PutUint32(c[off:], uint32(v))
		return c
	}
	vocabStart := 4 + 11*4 + 8 + 80*201*4
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, modelfile.ErrBadMagic},
		{"magic only", b[:4], modelfile.ErrTruncated},
		{"bad magic", append([]byte("GGUF"), b[4:]...), modelfile.ErrBadMagic},
		{"cut in hparams", b[:20], modelfile.ErrTruncated},
		{"cut in filters", b[:1000], modelfile.ErrTruncated},
		{"cut in vocab", b[:vocabStart+5000], modelfile.ErrTruncated},
		{"cut in tensor header", b[:emb.Offset-10], modelfile.ErrTruncated},
		{"cut in tensor data", b[:emb.Offset+emb.Size/2], modelfile.ErrTruncated},
		{"last byte missing", b[:len(b)-1], modelfile.ErrTruncated},
		{"tensor missing", b[:emb.Offset+emb.Size], modelfile.ErrTruncated},
		{"trailing bytes", append(bytes.Clone(b), 1, 2, 3), modelfile.ErrTruncated},
		{"small vocab", patched(4, 1000), modelfile.ErrCorrupt},
		{"state mismatch", patched(4+6*4, 32), modelfile.ErrCorrupt},
		{"heads", patched(4+3*4, 3), modelfile.ErrCorrupt},
		{"huge layers", patched(4+4*4, 1<<30), modelfile.ErrCorrupt},
		{"filter shape", patched(4+11*4, 81), modelfile.ErrCorrupt},
		{"too many tokens", patched(vocabStart, 60000), modelfile.ErrCorrupt},
		{"huge token", patched(vocabStart+4, 1<<30), modelfile.ErrCorrupt},
		{"five dims", patched(header(m.Tensors[0]), 5), modelfile.ErrCorrupt},
		{"unknown type", patched(header(emb)+8, 99), modelfile.ErrCorrupt},
		{"dimension zero", patched(header(emb)+12, 0), modelfile.ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(tc.data)
			if !errors.Is(err, tc.want) {
				t.Errorf("Parse = %v, want %v", err, tc.want)
			}
		})
	}
}

// header returns the offset of t's header.
func header(t modelfile.Tensor) int {
	return int(t.Offset) - len(t.Name) - 4*len(t.Dims) - 12
}

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	_, err := modelfile.Inspect(filepath.Join(dir, "none.bin"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := modelfile.Inspect(dir); !errors.Is(err, modelfile.ErrCorrupt) {
		t.Errorf("directory: %v", err)
	}
	path := filepath.Join(dir, "m.bin")
	if err := os.WriteFile(path, model(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := modelfile.Inspect(path); err != nil {
		t.Errorf("valid model: %v", err)
	}
}

// FuzzParse checks that no input makes Parse panic or accept a file that
// ends early.
func FuzzParse(f *testing.F) {
	b := model(f)
	f.Add(b[:64])
	f.Add(b[:4+11*4+8+80*201*4+200])
	f.Add([]byte("lmgg"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := parse(data); err == nil {
			t.Fatalf("accepted %d bytes", len(data))
		}
	})
}
