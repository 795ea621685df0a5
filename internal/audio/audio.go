// Package audio turns uploaded audio files into what the speech engine
// consumes: 16 kHz mono float32 samples in [-1, 1].
//
// WAV files (PCM 8/16/24/32-bit, IEEE float 32/64, WAVE_FORMAT_EXTENSIBLE,
// RF64) are decoded natively in pure Go. Every other recognised container
// (MP3, Ogg, FLAC, MP4, WebM, ...) and WAV files with compressed encodings
// go through an external ffmpeg program when one is installed.
//
// Errors caused by the input wrap one of the sentinels below, so callers
// can classify them with errors.Is; their text is written for the person
// who uploaded the file.
package audio

import (
	"errors"
	"time"
)

// SampleRate is the rate, in Hz, of the samples Decode returns.
const SampleRate = 16000

var (
	// ErrEmpty reports input that holds no audio: zero bytes, or a valid
	// container with zero samples.
	ErrEmpty = errors.New("audio: no audio data")
	// ErrMalformed reports a broken or truncated file of a recognised
	// format, including files that ffmpeg fails to decode.
	ErrMalformed = errors.New("audio: malformed audio")
	// ErrUnsupported reports a recognised format that cannot be decoded
	// natively when no ffmpeg program is available.
	ErrUnsupported = errors.New("audio: unsupported format")
	// ErrNotAudio reports bytes that do not start like any known audio or
	// video container.
	ErrNotAudio = errors.New("audio: not a recognised audio file")
	// ErrTooLong reports audio longer than Options.MaxSeconds.
	ErrTooLong = errors.New("audio: audio too long")
	// ErrDecoder reports a decoder that could not do its work (ffmpeg did
	// not start, was killed, or its output broke off): the server's
	// trouble, not the file's, so worth another try.
	ErrDecoder = errors.New("audio: decoder failed")
)

// PCM is decoded linear audio at its original rate and channel count.
type PCM struct {
	// SampleRate is the number of frames per second.
	SampleRate int
	// Channels is the number of samples in each frame.
	Channels int
	// Samples holds the frames one after the other, channels interleaved
	// (left, right, left, ... for stereo), each value in [-1, 1].
	Samples []float32
}

// Frames returns the number of frames (samples per channel).
func (p *PCM) Frames() int {
	if p.Channels <= 0 {
		return 0
	}
	return len(p.Samples) / p.Channels
}

// Duration returns the playing time of the audio.
func (p *PCM) Duration() time.Duration {
	if p.SampleRate <= 0 {
		return 0
	}
	return time.Duration(float64(p.Frames()) / float64(p.SampleRate) * float64(time.Second))
}

// Mono returns the audio downmixed to one channel by averaging the channels
// of each frame. For mono audio it returns Samples itself.
func (p *PCM) Mono() []float32 {
	return Downmix(p.Samples, p.Channels)
}

// Downmix averages each frame of interleaved samples with the given number of
// channels into one sample. A trailing partial frame is dropped. With one
// channel (or fewer) the input is returned unchanged.
func Downmix(samples []float32, channels int) []float32 {
	if channels <= 1 {
		return samples
	}
	frames := len(samples) / channels
	out := make([]float32, frames)
	scale := 1 / float64(channels)
	for i := range out {
		var sum float64
		for _, v := range samples[i*channels : (i+1)*channels] {
			sum += float64(v)
		}
		out[i] = float32(sum * scale)
	}
	return out
}

// clamp maps a decoded value into [-1, 1]; NaN becomes silence.
func clamp(v float32) float32 {
	switch {
	case v > 1:
		return 1
	case v < -1:
		return -1
	case v != v:
		return 0
	}
	return v
}
