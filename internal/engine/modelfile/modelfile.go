// Package modelfile reads the structure of a whisper model in whisper.cpp's
// ggml file format without loading its weights.
//
// whisper.cpp trusts the sizes a model file states: a truncated or damaged
// file can make it allocate absurd amounts of memory, read past its buffers
// or abort the process. Inspect checks every size against the file and the
// hyper-parameters first, so that a bad file becomes an error instead.
package modelfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// Magic is the first four bytes of every model, "ggml" as a little-endian
// uint32.
const Magic = 0x67676d6c

// Sentinel errors. Every error Inspect and Parse return wraps one of them.
var (
	// ErrBadMagic means the file does not start like a ggml model.
	ErrBadMagic = errors.New("modelfile: not a whisper ggml model (bad magic)")
	// ErrTruncated means the file ends before the structure it states.
	ErrTruncated = errors.New("modelfile: truncated model")
	// ErrCorrupt means a stated size or shape is impossible.
	ErrCorrupt = errors.New("modelfile: corrupt model")
)

// Limits beyond which a value can only come from a damaged file. They are
// far above every published whisper model.
const (
	maxDim       = 1 << 20
	maxLayers    = 256
	maxTokenLen  = 1 << 12
	maxNameLen   = 1 << 10
	maxTensorDim = 4
	fftBins      = 201 // whisper.cpp computes a 400-point FFT
	minVocab     = 51864
)

// Hparams are the eleven hyper-parameters at the start of the file.
type Hparams struct {
	Vocab       int32
	AudioCtx    int32
	AudioState  int32
	AudioHeads  int32
	AudioLayers int32
	TextCtx     int32
	TextState   int32
	TextHeads   int32
	TextLayers  int32
	Mels        int32
	Ftype       int32
}

// Multilingual tells whether whisper.cpp treats the model as multilingual.
func (h Hparams) Multilingual() bool { return h.Vocab >= 51865 }

// Tensor describes one stored tensor.
type Tensor struct {
	Name string
	// Type is the ggml element type, 0 for f32 and 1 for f16.
	Type int32
	// Dims are in ggml order, the contiguous dimension first.
	Dims []int64
	// Offset and Size locate the data in the file.
	Offset int64
	Size   int64
}

// Model is the structure of a model file.
type Model struct {
	Hparams Hparams
	// FilterMels and FilterBins are the shape of the mel filter bank.
	FilterMels, FilterBins int32
	// Tokens is the stored vocabulary in id order.
	Tokens  []string
	Tensors []Tensor
	// Size is the length of the file in bytes.
	Size int64
}

// Inspect opens path and checks its structure with Parse.
func Inspect(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: not a regular file", ErrCorrupt)
	}
	return Parse(f, st.Size())
}

// Parse reads the structure of a model of size bytes from r. It checks
// that the hyper-parameters are plausible, that every string and tensor
// lies within the file, that tensor sizes agree with their shapes and
// element types, that the file holds as many tensors as its
// hyper-parameters call for, and that nothing follows the last one.
func Parse(r io.ReaderAt, size int64) (*Model, error) {
	p := &parser{r: r, size: size}
	p.br = bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 64<<10)
	m := &Model{Size: size}

	magic, err := p.u32()
	if err != nil || magic != Magic {
		return nil, ErrBadMagic
	}
	if err := p.hparams(&m.Hparams); err != nil {
		return nil, err
	}
	if err := p.filters(m); err != nil {
		return nil, err
	}
	if err := p.vocab(m); err != nil {
		return nil, err
	}
	if err := p.tensors(m); err != nil {
		return nil, err
	}
	return m, nil
}

// parser reads the header, filters and vocabulary through a buffer and then
// walks the tensor headers, skipping their data.
type parser struct {
	r    io.ReaderAt
	br   *bufio.Reader
	off  int64
	size int64
	b    [4]byte
}

func (p *parser) u32() (uint32, error) {
	if _, err := io.ReadFull(p.br, p.b[:]); err != nil {
		return 0, p.short(err)
	}
	p.off += 4
	return binary.LittleEndian.Uint32(p.b[:]), nil
}

func (p *parser) i32() (int32, error) {
	v, err := p.u32()
	return int32(v), err
}

func (p *parser) bytes(n int64) ([]byte, error) {
	if n > p.size-p.off {
		return nil, fmt.Errorf("%w: %d bytes wanted at offset %d", ErrTruncated, n, p.off)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(p.br, b); err != nil {
		return nil, p.short(err)
	}
	p.off += n
	return b, nil
}

// skip moves past n bytes without reading them.
func (p *parser) skip(n int64) error {
	if n > p.size-p.off {
		return fmt.Errorf("%w: %d bytes wanted at offset %d", ErrTruncated, n, p.off)
	}
	p.off += n
	p.br.Reset(io.NewSectionReader(p.r, p.off, p.size-p.off))
	return nil
}

func (p *parser) short(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: ends at offset %d", ErrTruncated, p.off)
	}
	return err
}

func (p *parser) hparams(h *Hparams) error {
	for _, v := range []*int32{
		&h.Vocab, &h.AudioCtx, &h.AudioState, &h.AudioHeads, &h.AudioLayers,
		&h.TextCtx, &h.TextState, &h.TextHeads, &h.TextLayers, &h.Mels, &h.Ftype,
	} {
		var err error
		if *v, err = p.i32(); err != nil {
			return err
		}
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
	inRange := func(v int32, hi int32) bool { return v > 0 && v <= hi }
	switch {
	case h.Vocab < minVocab || h.Vocab > maxDim:
		return bad("n_vocab %d", h.Vocab)
	case !inRange(h.AudioCtx, maxDim) || !inRange(h.TextCtx, maxDim):
		return bad("context %d/%d", h.AudioCtx, h.TextCtx)
	case !inRange(h.AudioState, maxDim) || h.TextState != h.AudioState:
		return bad("state %d/%d", h.AudioState, h.TextState)
	case !inRange(h.AudioHeads, h.AudioState) || h.AudioState%h.AudioHeads != 0:
		return bad("audio heads %d", h.AudioHeads)
	case !inRange(h.TextHeads, h.TextState) || h.TextState%h.TextHeads != 0:
		return bad("text heads %d", h.TextHeads)
	case !inRange(h.AudioLayers, maxLayers) || !inRange(h.TextLayers, maxLayers):
		return bad("layers %d/%d", h.AudioLayers, h.TextLayers)
	case !inRange(h.Mels, 1024):
		return bad("n_mels %d", h.Mels)
	case h.Ftype < 0:
		return bad("ftype %d", h.Ftype)
	}
	return nil
}

func (p *parser) filters(m *Model) error {
	var err error
	if m.FilterMels, err = p.i32(); err != nil {
		return err
	}
	if m.FilterBins, err = p.i32(); err != nil {
		return err
	}
	if m.FilterMels != m.Hparams.Mels || m.FilterBins != fftBins {
		return fmt.Errorf("%w: mel filters %dx%d for %d mels",
			ErrCorrupt, m.FilterMels, m.FilterBins, m.Hparams.Mels)
	}
	_, err = p.bytes(4 * int64(m.FilterMels) * int64(m.FilterBins))
	return err
}

func (p *parser) vocab(m *Model) error {
	n, err := p.i32()
	if err != nil {
		return err
	}
	if n < 0 || n > m.Hparams.Vocab {
		return fmt.Errorf("%w: %d tokens stored for n_vocab %d", ErrCorrupt, n, m.Hparams.Vocab)
	}
	m.Tokens = make([]string, n)
	for i := range m.Tokens {
		l, err := p.u32()
		if err != nil {
			return err
		}
		if l > maxTokenLen {
			return fmt.Errorf("%w: token %d is %d bytes long", ErrCorrupt, i, l)
		}
		b, err := p.bytes(int64(l))
		if err != nil {
			return err
		}
		m.Tokens[i] = string(b)
	}
	return nil
}

// expectedTensors is the number of tensors whisper.cpp creates for h.
func expectedTensors(h Hparams) int {
	return 7 + 15*int(h.AudioLayers) + 4 + 24*int(h.TextLayers)
}

func (p *parser) tensors(m *Model) error {
	want := expectedTensors(m.Hparams)
	seen := make(map[string]bool, want)
	for p.off < p.size {
		t, err := p.tensor()
		if err != nil {
			return err
		}
		if seen[t.Name] {
			return fmt.Errorf("%w: tensor %q stored twice", ErrCorrupt, t.Name)
		}
		seen[t.Name] = true
		m.Tensors = append(m.Tensors, t)
		if len(m.Tensors) > want {
			return fmt.Errorf("%w: more than %d tensors", ErrCorrupt, want)
		}
	}
	if len(m.Tensors) != want {
		return fmt.Errorf("%w: %d of %d tensors present", ErrTruncated, len(m.Tensors), want)
	}
	return nil
}

func (p *parser) tensor() (Tensor, error) {
	var t Tensor
	at := p.off
	nDims, err := p.i32()
	if err != nil {
		return t, err
	}
	nameLen, err := p.i32()
	if err != nil {
		return t, err
	}
	if t.Type, err = p.i32(); err != nil {
		return t, err
	}
	if nDims < 1 || nDims > maxTensorDim || nameLen < 1 || nameLen > maxNameLen {
		return t, fmt.Errorf("%w: tensor header at offset %d", ErrCorrupt, at)
	}
	elems := int64(1)
	for range nDims {
		d, err := p.i32()
		if err != nil {
			return t, err
		}
		if d < 1 {
			return t, fmt.Errorf("%w: tensor dimension %d at offset %d", ErrCorrupt, d, at)
		}
		t.Dims = append(t.Dims, int64(d))
		elems *= int64(d)
		if elems > math.MaxInt32 {
			return t, fmt.Errorf("%w: tensor too large at offset %d", ErrCorrupt, at)
		}
	}
	name, err := p.bytes(int64(nameLen))
	if err != nil {
		return t, err
	}
	t.Name = string(name)
	t.Size, err = dataSize(t.Type, elems)
	if err != nil {
		return t, fmt.Errorf("%w: tensor %q: %w", ErrCorrupt, t.Name, err)
	}
	t.Offset = p.off
	if err := p.skip(t.Size); err != nil {
		return t, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return t, nil
}

// typeSizes maps the ggml element types found in whisper models to their
// block length in elements and block size in bytes.
var typeSizes = map[int32][2]int64{
	0:  {1, 4},     // f32
	1:  {1, 2},     // f16
	2:  {32, 18},   // q4_0
	3:  {32, 20},   // q4_1
	6:  {32, 22},   // q5_0
	7:  {32, 24},   // q5_1
	8:  {32, 34},   // q8_0
	10: {256, 84},  // q2_K
	11: {256, 110}, // q3_K
	12: {256, 144}, // q4_K
	13: {256, 176}, // q5_K
	14: {256, 210}, // q6_K
	30: {1, 2},     // bf16
}

func dataSize(typ int32, elems int64) (int64, error) {
	bs, ok := typeSizes[typ]
	if !ok {
		return 0, fmt.Errorf("unsupported element type %d", typ)
	}
	if elems%bs[0] != 0 {
		return 0, fmt.Errorf("%d elements do not fill blocks of %d", elems, bs[0])
	}
	return elems / bs[0] * bs[1], nil
}
