// Package transcript defines the result of transcribing one audio file, as
// the engine produces it, the queue stores it and the API returns it.
package transcript

// Segment is one stretch of recognised speech. Times are seconds from the
// start of the original audio.
type Segment struct {
	ID    int     `json:"id"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Text  string  `json:"text"`
}

// Result is a whole transcription.
type Result struct {
	// Text is the segments' text joined, without leading or trailing space.
	Text string `json:"text"`
	// Language is the code of the spoken language, detected or requested.
	Language string `json:"language"`
	// Duration is the length of the audio in seconds.
	Duration float64 `json:"duration"`
	// Segments are in time order and never end after Duration.
	Segments []Segment `json:"segments"`
	// Model is the base name of the model file that produced the result.
	Model string `json:"model"`
}
