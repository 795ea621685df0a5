package engine

import "errors"

// Sentinel errors. Errors from this package wrap one of them, or a
// context's error when a transcription is cancelled.
var (
	// ErrModel means the model file is missing, unreadable or not a
	// whisper model whisper.cpp can load.
	ErrModel = errors.New("engine: unusable model")
	// ErrAudioTooShort means the audio is empty or shorter than whisper.cpp
	// transcribes; see MinSamples.
	ErrAudioTooShort = errors.New("engine: audio too short")
	// ErrLanguage means the requested language is unknown, or not one the
	// model was trained on.
	ErrLanguage = errors.New("engine: unsupported language")
	// ErrClosed means the Engine has been closed.
	ErrClosed = errors.New("engine: closed")
	// ErrInference means whisper.cpp reported a failure while transcribing.
	ErrInference = errors.New("engine: inference failed")
)
