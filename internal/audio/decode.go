package audio

import (
	"context"
	"errors"
	"fmt"
)

// Options control Decode.
type Options struct {
	// FFmpeg is the ffmpeg program: a path, or a name looked up in PATH.
	// Empty means "ffmpeg".
	FFmpeg string
	// MaxSeconds, when positive, is the longest audio Decode accepts.
	MaxSeconds float64
	// TempDir is where inputs that ffmpeg cannot read from a pipe (MP4,
	// whose index may sit at the end) are written for the duration of
	// the call. Empty means os.TempDir().
	TempDir string
	// Progress, if set, is called each time ffmpeg hands over decoded
	// samples, so that a watchdog sees a long decode advance.
	Progress func()
}

// Decode turns an audio file into mono float32 samples at SampleRate, each
// in [-1, 1], averaging the channels of multi-channel audio. (Through
// ffmpeg, audio with more than two channels gets ffmpeg's standard downmix
// scaled to unit gain instead, which favours the centre channel.)
//
// WAV files in the encodings ParseWAV accepts are decoded in process. Every
// other format that Sniff recognises, and WAV files with compressed
// encodings, are decoded by running ffmpeg, which is killed when ctx ends.
//
// Errors wrap ErrEmpty, ErrNotAudio, ErrMalformed (including ffmpeg's
// failures, with its message), ErrUnsupported (ffmpeg is needed but not
// installed) or ErrTooLong (the audio lasts longer than opts.MaxSeconds;
// for WAV this is found from the header, before any sample is decoded).
// When ctx ends first, the error wraps ctx.Err(). Other errors, such as
// ffmpeg failing to start, are faults of the server rather than the input.
func Decode(ctx context.Context, data []byte, opts Options) ([]float32, error) {
	format, err := Sniff(data)
	if err != nil {
		return nil, err
	}
	what := format.String()
	if format == FormatWAV {
		w, err := readWAV(data)
		var unsupported *unsupportedError
		switch {
		case errors.As(err, &unsupported):
			what = unsupported.what
		case err != nil:
			return nil, err
		default:
			return decodeWAV(ctx, w, opts)
		}
	}
	return runFFmpeg(ctx, data, format, what, opts)
}

// decodeWAV converts a parsed WAV file to mono at SampleRate.
func decodeWAV(ctx context.Context, w *wavFile, opts Options) ([]float32, error) {
	if err := checkLength(w.seconds(), opts); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("audio: decoding WAV: %w", err)
	}
	p := w.pcm()
	out := Resample(p.Mono(), p.SampleRate, SampleRate)
	if p.SampleRate != SampleRate {
		// The filter's ripple can take a full-scale step slightly past 1.
		for i, v := range out {
			out[i] = clamp(v)
		}
	}
	return out, nil
}

// checkLength enforces opts.MaxSeconds.
func checkLength(seconds float64, opts Options) error {
	if opts.MaxSeconds > 0 && seconds > opts.MaxSeconds {
		return fmt.Errorf("%w: %.1f s is over the limit of %g s",
			ErrTooLong, seconds, opts.MaxSeconds)
	}
	return nil
}
