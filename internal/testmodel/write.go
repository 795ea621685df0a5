package testmodel

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Format constants of whisper.cpp's loader.
const (
	fileMagic = 0x67676d6c // "ggml" read as a little-endian uint32
	ftypeF32  = 0          // all tensors f32
	typeF32   = 0          // ggml element type of a tensor
	melFFT    = 201        // frequency bins of whisper's 400-point FFT
)

// Write writes a model made with opts to w.
func Write(w io.Writer, opts Options) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	mw := &modelWriter{
		w:   bufio.NewWriterSize(w, 1<<20),
		rng: rand.NewPCG(o.Seed, 0x7465_7374_6d6f_6465),
	}
	mw.header(o)
	mw.filters(o.Mels)
	mw.vocab(Vocabulary(o))
	for _, t := range tensors(o) {
		mw.tensor(t, o)
	}
	if mw.err != nil {
		return fmt.Errorf("testmodel: write: %w", mw.err)
	}
	if err := mw.w.Flush(); err != nil {
		return fmt.Errorf("testmodel: write: %w", err)
	}
	return nil
}

// WriteFile writes a model made with opts to path. It writes a temporary
// file in the same directory and renames it, so path never holds a partial
// model.
func WriteFile(path string, opts Options) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("testmodel: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := Write(f, opts); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("testmodel: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("testmodel: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("testmodel: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("testmodel: %w", err)
	}
	return nil
}

// modelWriter keeps the first write error, so the format reads as a
// plain sequence of writes.
type modelWriter struct {
	w   *bufio.Writer
	rng *rand.PCG
	buf [4]byte
	err error
}

func (m *modelWriter) u32(v uint32) {
	if m.err != nil {
		return
	}
	binary.LittleEndian.PutUint32(m.buf[:], v)
	_, m.err = m.w.Write(m.buf[:])
}

func (m *modelWriter) i32(v int) { m.u32(uint32(int32(v))) }

func (m *modelWriter) f32(v float64) { m.u32(math.Float32bits(float32(v))) }

// uniform returns a value in [-1, 1) from the top 53 bits of the
// generator, whose output for a seed is fixed by its specification.
func (m *modelWriter) uniform() float64 {
	return float64(m.rng.Uint64()>>11)/(1<<52) - 1
}

func (m *modelWriter) str(s string) {
	if m.err == nil {
		_, m.err = m.w.WriteString(s)
	}
}

func (m *modelWriter) header(o Options) {
	m.u32(fileMagic)
	for _, v := range []int{
		o.Vocab, o.AudioCtx, o.State, o.AudioHeads, o.AudioLayers,
		o.TextCtx, o.State, o.TextHeads, o.TextLayers, o.Mels, ftypeF32,
	} {
		m.i32(v)
	}
}

func (m *modelWriter) filters(mels int) {
	m.i32(mels)
	m.i32(melFFT)
	for _, v := range melFilters(mels, melFFT) {
		m.f32(v)
	}
}

func (m *modelWriter) vocab(words []string) {
	m.i32(len(words))
	for _, w := range words {
		m.i32(len(w))
		m.str(w)
	}
}

// tensor writes t's header, name and data. Layer-norm gains are one and
// layer-norm offsets zero, as in a freshly initialised network; every other
// value is uniform in [-scale, scale).
func (m *modelWriter) tensor(t tensorSpec, o Options) {
	m.i32(len(t.dims))
	m.i32(len(t.name))
	m.i32(typeF32)
	n := 1
	for _, d := range t.dims {
		m.i32(d)
		n *= d
	}
	m.str(t.name)
	beg := timestampBegin(o.Vocab)
	for i := range n {
		switch {
		case t.fill == fillOne, t.fill == fillGain && i > 0, t.fill == fillBias && i == 0:
			m.f32(1)
		case t.fill == fillZero, t.fill == fillGain, t.fill == fillBias:
			m.f32(0)
		case t.fill == fillEmbedding && i%o.State == 0:
			if i/o.State >= beg {
				m.f32(o.TimestampBias)
			} else {
				m.f32(0)
			}
		default:
			m.f32(o.WeightScale * m.uniform())
		}
	}
}

// melFilters returns a triangular mel filter bank of mels bands over the
// bins of a 400-point FFT at 16 kHz, row by row, in the Slaney mel scale
// and area normalisation that whisper's own filters use.
func melFilters(mels, bins int) []float64 {
	const sampleRate = 16000.0
	toMel := func(f float64) float64 {
		if f < 1000 {
			return 3 * f / 200
		}
		return 15 + 27*math.Log(f/1000)/math.Log(6.4)
	}
	toHz := func(m float64) float64 {
		if m < 15 {
			return 200 * m / 3
		}
		return 1000 * math.Exp((m-15)*math.Log(6.4)/27)
	}
	lo, hi := toMel(0), toMel(sampleRate/2)
	edges := make([]float64, mels+2)
	for i := range edges {
		edges[i] = toHz(lo + (hi-lo)*float64(i)/float64(mels+1))
	}
	out := make([]float64, mels*bins)
	for m := range mels {
		left, centre, right := edges[m], edges[m+1], edges[m+2]
		norm := 2 / (right - left)
		for k := range bins {
			f := float64(k) * sampleRate / float64(2*(bins-1))
			up := (f - left) / (centre - left)
			down := (right - f) / (right - centre)
			if w := math.Min(up, down); w > 0 {
				out[m*bins+k] = w * norm
			}
		}
	}
	return out
}
