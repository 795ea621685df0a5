// Package transcript defines the result of transcribing one audio file, as
// the engine produces it, the queue stores it and the API renders it.
package transcript

// Segment is one stretch of recognised speech. Times are seconds from the
// start of the original audio.
type Segment struct {
	ID    int     `json:"id"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Text  string  `json:"text"`
	// Seek is the start of the 30 s window the segment was decoded in, in
	// 10 ms frames.
	Seek int `json:"seek"`
	// Tokens are the ids of the text tokens of the segment.
	Tokens []int `json:"tokens"`
	// Temperature is the sampling temperature that produced the segment.
	Temperature float64 `json:"temperature"`
	// AvgLogprob is the mean log probability of the segment's tokens.
	AvgLogprob float64 `json:"avg_logprob"`
	// CompressionRatio is the gzip compression ratio of the text; high
	// values mean repetitive text.
	CompressionRatio float64 `json:"compression_ratio"`
	// NoSpeechProb is the probability that the window held no speech.
	NoSpeechProb float64 `json:"no_speech_prob"`
	// Words are the segment's words with their times, when word
	// timestamps were asked for.
	Words []Word `json:"words,omitempty"`
}

// Word is one word with its time span in seconds.
type Word struct {
	Word  string  `json:"word"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// Result is a whole transcription.
type Result struct {
	// Task is "transcribe", or "translate" for a translation to English.
	Task string `json:"task"`
	// Text is the segments' text joined, without leading or trailing space.
	Text string `json:"text"`
	// Language is the code of the spoken language, detected or requested.
	Language string `json:"language"`
	// LanguageProbability is the detector's confidence in Language, or 0
	// when the language was given rather than detected.
	LanguageProbability float64 `json:"language_probability"`
	// Duration is the length of the audio in seconds.
	Duration float64 `json:"duration"`
	// Segments are in time order and never end after Duration.
	Segments []Segment `json:"segments"`
	// Model is the base name of the model file that produced the result.
	Model string `json:"model"`
}

// Options are a client's decoding choices for one job. Zero values mean
// the service's defaults.
type Options struct {
	// Language is a language code, or "" or "auto" to use the worker's
	// configured default.
	Language string `json:"language,omitempty"`
	// Translate asks for an English translation.
	Translate bool `json:"translate,omitempty"`
	// Prompt is text that precedes the audio, to steer spelling and style.
	Prompt string `json:"prompt,omitempty"`
	// Temperature is the sampling temperature; 0 means greedy decoding
	// with automatic fallback.
	Temperature float64 `json:"temperature,omitempty"`
	// WordTimestamps asks for each word's time span.
	WordTimestamps bool `json:"word_timestamps,omitempty"`
	// VAD switches voice activity detection on or off; nil leaves it on
	// wherever a VAD model is installed.
	VAD *bool `json:"vad,omitempty"`
	// VADThreshold is the speech probability above which audio counts as
	// speech; 0 means whisper's default, 0.5.
	VADThreshold float64 `json:"vad_threshold,omitempty"`
	// BeamSize > 1 decodes with beam search of that width; BestOf is the
	// number of candidates greedy sampling keeps at temperatures above 0.
	BeamSize int `json:"beam_size,omitempty"`
	BestOf   int `json:"best_of,omitempty"`
	// NoSpeechThreshold is the no-speech probability above which a window
	// counts as silent; 0 means whisper's default.
	NoSpeechThreshold float64 `json:"no_speech_threshold,omitempty"`
	// MaxSegmentLength, when positive, bounds a segment's length in
	// characters; SplitOnWord makes such splits fall between words.
	MaxSegmentLength int  `json:"max_segment_length,omitempty"`
	SplitOnWord      bool `json:"split_on_word,omitempty"`
}
