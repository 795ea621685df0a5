package testmodel

// Strings whisper.cpp looks up by value while decoding. A model without
// them makes whisper_full throw std::out_of_range: " " is suppressed at
// the start of every segment, " -" and " '" when non-speech tokens are.
// The others make transcripts look a little more like text.
var specialTokens = []string{" ", " -", " '", "-", "'", ".", ",", "?", "!"}

// Syllables of the made-up words: every onset with every vowel. No onset
// is "h" and every syllable ends in a vowel, so a word splits into
// syllables in exactly one way and no two words are spelled alike.
var (
	onsets = []string{
		"b", "d", "f", "g", "k", "l", "m", "n",
		"p", "r", "s", "t", "v", "z", "sh", "ch",
	}
	vowels = []string{"a", "e", "i", "o", "u"}
)

// textTokens is the number of ordinary tokens, ids 0 up to the
// end-of-transcript token; whisper.cpp names the special tokens above them
// itself.
func textTokens(vocab int) int {
	if multilingual(vocab) {
		return 50257
	}
	return 50256
}

// Vocabulary returns the ordinary tokens a model made with opts holds, in
// id order. Every text whisper.cpp produces with that model is a
// concatenation of them. Most are a space followed by a made-up word of one
// to three syllables, as BPE vocabularies mark the start of a word.
func Vocabulary(opts Options) []string {
	vocab := opts.Vocab
	if vocab == 0 {
		vocab = DefaultVocab
	}
	n := textTokens(vocab)
	words := make([]string, 0, n)
	words = append(words, specialTokens...)
	for i := 0; len(words) < n; i++ {
		words = append(words, " "+word(i))
	}
	return words
}

// word returns the i-th made-up word: first all one-syllable words, then
// all two-syllable words, then three.
func word(i int) string {
	nsyl := len(onsets) * len(vowels)
	syllables := 1
	for span := nsyl; i >= span; span *= nsyl {
		i -= span
		syllables++
	}
	w := make([]byte, 0, 3*syllables)
	for range syllables {
		s := i % nsyl
		i /= nsyl
		w = append(w, onsets[s/len(vowels)]...)
		w = append(w, vowels[s%len(vowels)]...)
	}
	return string(w)
}

// timestampBegin is the id of the first timestamp token, where whisper.cpp
// puts it for a vocabulary of this size.
func timestampBegin(vocab int) int {
	if multilingual(vocab) {
		languages := vocab - 51765 - 1
		return 50363 + languages - 98
	}
	return 50363
}
