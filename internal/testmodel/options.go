// Package testmodel writes whisper models in whisper.cpp's ggml file format
// with small random weights. Such a model loads and runs in whisper.cpp like a
// real one and turns speech into nonsense words from a made-up vocabulary, so
// tests and demos can exercise the whole pipeline where no real model may be
// downloaded.
//
// The file holds, in order and little-endian: the magic "ggml" as a uint32,
// eleven int32 hyper-parameters, the mel filter bank, the vocabulary as
// length-prefixed strings, and the named tensors, each a header (dimension
// count, name length, element type, dimensions) followed by its name and
// data.
package testmodel

import (
	"errors"
	"fmt"
)

// Defaults: a model far smaller than whisper "tiny", large enough for
// whisper.cpp to produce timestamped segments, with weights that make it
// decode quickly.
const (
	DefaultVocab       = 51864 // English-only vocabulary size of every .en model
	DefaultAudioCtx    = 1500  // 30 s of audio, the only window whisper.cpp feeds
	DefaultTextCtx     = 448
	DefaultState       = 64
	DefaultHeads       = 1
	DefaultLayers      = 1
	DefaultMels        = 80
	DefaultWeightScale = 2.0
	// DefaultTimestampBias makes the decoder close segments often enough
	// that whisper.cpp rarely falls back to slow sampling at higher
	// temperatures: the default model transcribes 11 s in about 0.1 s.
	DefaultTimestampBias = 8.0
)

// minVocab is the smallest n_vocab whisper.cpp can decode with: its special
// and timestamp tokens sit at fixed ids up to here.
const minVocab = 51864

// Options sets the shape and contents of a generated model. The zero value
// of any field selects its default, so Options{} is the tiny test model.
type Options struct {
	// Seed makes the weights: equal options write byte-identical files.
	Seed uint64
	// Vocab is n_vocab; 51864 is English-only, 51865 and more multilingual.
	Vocab int
	// AudioCtx and TextCtx are the encoder and decoder context lengths.
	AudioCtx int
	TextCtx  int
	// State is the width of both encoder and decoder.
	State int
	// AudioHeads and TextHeads are attention heads; each divides State.
	AudioHeads int
	TextHeads  int
	// AudioLayers and TextLayers are encoder and decoder blocks.
	AudioLayers int
	TextLayers  int
	// Mels is the number of mel bands of the input spectrogram.
	Mels int
	// WeightScale bounds the random weights: each is uniform in
	// [-WeightScale, WeightScale).
	WeightScale float64
	// TimestampBias is added to the logits of timestamp tokens, which end
	// segments.
	TimestampBias float64
}

// BaseSized returns options with the layer shapes of whisper "base"
// (state 512, 8 heads, 6 layers per side): a model about as slow as a real
// base model, for measuring throughput.
func BaseSized(seed uint64) Options {
	return Options{
		Seed:        seed,
		State:       512,
		AudioHeads:  8,
		TextHeads:   8,
		AudioLayers: 6,
		TextLayers:  6,
	}
}

// ErrOptions reports options that cannot make a loadable model.
var ErrOptions = errors.New("testmodel: invalid options")

// withDefaults returns o with every zero field set to its default, or an
// error naming the first field whisper.cpp could not work with.
func (o Options) withDefaults() (Options, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Vocab, DefaultVocab)
	def(&o.AudioCtx, DefaultAudioCtx)
	def(&o.TextCtx, DefaultTextCtx)
	def(&o.State, DefaultState)
	def(&o.AudioHeads, DefaultHeads)
	def(&o.TextHeads, DefaultHeads)
	def(&o.AudioLayers, DefaultLayers)
	def(&o.TextLayers, DefaultLayers)
	def(&o.Mels, DefaultMels)
	if o.WeightScale == 0 {
		o.WeightScale = DefaultWeightScale
	}
	if o.TimestampBias == 0 {
		o.TimestampBias = DefaultTimestampBias
	}

	switch {
	case o.Vocab < minVocab:
		return o, fmt.Errorf("%w: vocab %d < %d", ErrOptions, o.Vocab, minVocab)
	case o.AudioCtx < 0, o.TextCtx < 0, o.State < 0, o.Mels < 0:
		return o, fmt.Errorf("%w: negative context, state or mels", ErrOptions)
	case o.AudioHeads < 0, o.TextHeads < 0, o.AudioLayers < 0, o.TextLayers < 0:
		return o, fmt.Errorf("%w: negative heads or layers", ErrOptions)
	case o.State%o.AudioHeads != 0 || o.State%o.TextHeads != 0:
		return o, fmt.Errorf("%w: state %d not divisible by heads", ErrOptions, o.State)
	case o.WeightScale < 0:
		return o, fmt.Errorf("%w: negative weight scale", ErrOptions)
	}
	return o, nil
}

// multilingual tells whether whisper.cpp treats a vocabulary of this size
// as multilingual, which moves its special tokens up by one.
func multilingual(vocab int) bool { return vocab >= 51865 }
