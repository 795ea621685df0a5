package testmodel

import "fmt"

// fill says how a tensor's values are chosen.
type fill int

const (
	fillRandom fill = iota
	fillOne
	fillZero
	// fillGain and fillBias are the gain and offset of the decoder's final
	// layer norm: one and zero but for the first feature, which they set
	// to a constant one. The first column of the token embedding, which
	// multiplies it, then acts as a per-token bias on the logits.
	fillGain
	fillBias
	// fillEmbedding is random but for the first column, which holds the
	// logit bias: TimestampBias for timestamp tokens, zero for the rest.
	fillEmbedding
)

// tensorSpec is one named tensor. Dimensions are in ggml order: the first
// is the one whose elements are adjacent in memory.
type tensorSpec struct {
	name string
	dims []int
	fill fill
}

// tensors lists every tensor whisper.cpp's loader expects for the shape in
// o, in the order its converter writes them.
func tensors(o Options) []tensorSpec {
	s := o.State
	var ts []tensorSpec
	add := func(name string, f fill, dims ...int) {
		ts = append(ts, tensorSpec{name: name, dims: dims, fill: f})
	}

	add("encoder.positional_embedding", fillRandom, s, o.AudioCtx)
	add("encoder.conv1.weight", fillRandom, 3, o.Mels, s)
	add("encoder.conv1.bias", fillRandom, 1, s)
	add("encoder.conv2.weight", fillRandom, 3, s, s)
	add("encoder.conv2.bias", fillRandom, 1, s)
	for i := range o.AudioLayers {
		block(add, fmt.Sprintf("encoder.blocks.%d.", i), s, false)
	}
	add("encoder.ln_post.weight", fillOne, s)
	add("encoder.ln_post.bias", fillZero, s)

	add("decoder.positional_embedding", fillRandom, s, o.TextCtx)
	add("decoder.token_embedding.weight", fillEmbedding, s, o.Vocab)
	for i := range o.TextLayers {
		block(add, fmt.Sprintf("decoder.blocks.%d.", i), s, true)
	}
	add("decoder.ln.weight", fillGain, s)
	add("decoder.ln.bias", fillBias, s)
	return ts
}

// block adds the tensors of one transformer block of width s: self
// attention, cross attention for decoder blocks, and the MLP.
func block(add func(string, fill, ...int), prefix string, s int, cross bool) {
	attention := func(name string) {
		add(prefix+name+"_ln.weight", fillOne, s)
		add(prefix+name+"_ln.bias", fillZero, s)
		add(prefix+name+".query.weight", fillRandom, s, s)
		add(prefix+name+".query.bias", fillRandom, s)
		add(prefix+name+".key.weight", fillRandom, s, s)
		add(prefix+name+".value.weight", fillRandom, s, s)
		add(prefix+name+".value.bias", fillRandom, s)
		add(prefix+name+".out.weight", fillRandom, s, s)
		add(prefix+name+".out.bias", fillRandom, s)
	}
	attention("attn")
	if cross {
		attention("cross_attn")
	}
	add(prefix+"mlp_ln.weight", fillOne, s)
	add(prefix+"mlp_ln.bias", fillZero, s)
	add(prefix+"mlp.0.weight", fillRandom, s, 4*s)
	add(prefix+"mlp.0.bias", fillRandom, 4*s)
	add(prefix+"mlp.2.weight", fillRandom, 4*s, s)
	add(prefix+"mlp.2.bias", fillRandom, s)
}
