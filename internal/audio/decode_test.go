package audio

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestDecodeWAVNative(t *testing.T) {
	// One second of a 1 kHz tone at 44.1 kHz, left channel only: the
	// downmix halves it.
	tone := sine(44100, 44100, 1000, 0.5)
	var pcm []int16
	for _, v := range tone {
		pcm = append(pcm, int16(v*32767), 0)
	}
	file := simpleWAV(tagPCM, 2, 44100, 16, le16(pcm...))
	out, err := Decode(context.Background(), file, Options{FFmpeg: noFFmpeg})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != SampleRate {
		t.Fatalf("%d samples, want %d", len(out), SampleRate)
	}
	mid := out[1000 : len(out)-1000]
	if g := db(rms(mid) / (0.25 / 1.4142135)); g < -0.01 || g > 0.01 {
		t.Errorf("level %.3f dB from the expected, want 0", g)
	}
	// 16 kHz mono input comes back unchanged.
	file = simpleWAV(tagPCM, 1, SampleRate, 16, le16(-16384, 0, 16384))
	out, err = Decode(context.Background(), file, Options{FFmpeg: noFFmpeg})
	if err != nil || len(out) != 3 || out[0] != -0.5 || out[2] != 0.5 {
		t.Errorf("Decode = %v, %v, want [-0.5 0 0.5]", out, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	long := simpleWAV(tagPCM, 1, 8000, 8, make([]byte, 8000*90))
	tests := []struct {
		name     string
		data     []byte
		opts     Options
		want     error
		contains []string
	}{
		{"empty", nil, Options{}, ErrEmpty, nil},
		{"text", []byte("{\"text\": \"not audio\"}"), Options{}, ErrNotAudio, nil},
		{"HTML", []byte("<!DOCTYPE html><html>"), Options{}, ErrNotAudio, nil},
		{"truncated WAV", long[:30], Options{}, ErrMalformed, []string{"fmt"}},
		{"WAV without samples", simpleWAV(tagPCM, 1, 8000, 16, nil), Options{}, ErrEmpty, nil},
		{"WAV over the limit", long, Options{MaxSeconds: 60}, ErrTooLong,
			[]string{"90.0 s", "60 s"}},
		{"MP3 without ffmpeg", mp3Frames(3), Options{FFmpeg: noFFmpeg}, ErrUnsupported,
			[]string{"unsupported format", "MP3", "install ffmpeg"}},
		{"µ-law WAV without ffmpeg", simpleWAV(7, 1, 8000, 8, make([]byte, 100)),
			Options{FFmpeg: noFFmpeg}, ErrUnsupported,
			[]string{"unsupported format", "µ-law", "install ffmpeg"}},
		{"Ogg without ffmpeg", []byte("OggS\x00\x02"), Options{FFmpeg: "no-such-ffmpeg"},
			ErrUnsupported, []string{"Ogg", "install ffmpeg"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Decode(context.Background(), tt.data, tt.opts)
			if out != nil {
				t.Errorf("got %d samples despite the error", len(out))
			}
			checkSentinel(t, err, tt.want)
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

// TestDecodeLimitBeforeDecoding checks that an over-long WAV is refused from
// its header, before its samples are converted.
func TestDecodeLimitBeforeDecoding(t *testing.T) {
	file := simpleWAV(tagPCM, 1, 8000, 8, make([]byte, 8000*600))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decode(context.Background(), file, Options{MaxSeconds: 60})
	runtime.ReadMemStats(&after)
	checkSentinel(t, err, ErrTooLong)
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Errorf("allocated %d bytes before refusing", n)
	}
}

// mp3Frames returns n empty MPEG-1 layer III frames (128 kbit/s, 44.1 kHz,
// 417 bytes each).
func mp3Frames(n int) []byte {
	frame := make([]byte, 417)
	copy(frame, []byte{0xff, 0xfb, 0x90, 0x64})
	var b []byte
	for range n {
		b = append(b, frame...)
	}
	return b
}

// fakeFFmpeg writes a shell script that stands in for ffmpeg.
func fakeFFmpeg(t *testing.T, script string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("needs a Unix shell")
	}
	path := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDecodeFakeFFmpeg(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		max     float64
		want    error // nil: success
		message string
		samples int
	}{
		{
			name: "failure",
			script: "echo '[mp3 @ 0x55d0c0ffee00] Header missing' >&2\n" +
				"echo '[in#0 @ 0x55d0c0ffee10] Error opening input: Invalid data found' >&2\n" +
				"exit 183",
			want: ErrMalformed,
			message: "audio: malformed audio: decoding MP3 with ffmpeg failed: " +
				"Error opening input: Invalid data found",
		},
		{
			name:    "silent failure",
			script:  "exit 1",
			want:    ErrMalformed,
			message: "audio: malformed audio: decoding MP3 with ffmpeg failed: no error message",
		},
		{name: "one second", script: "exec head -c 64000 /dev/zero", samples: SampleRate},
		{name: "odd byte count", script: "exec head -c 10 /dev/zero", samples: 2},
		{name: "no output", script: "exit 0", want: ErrEmpty},
		{name: "too long", script: "exec head -c 1000000 /dev/zero", max: 2, want: ErrTooLong},
		{name: "exactly the limit", script: "exec head -c 128000 /dev/zero", max: 2,
			samples: 2 * SampleRate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{FFmpeg: fakeFFmpeg(t, tt.script), MaxSeconds: tt.max}
			out, err := Decode(context.Background(), mp3Frames(2), opts)
			if tt.want == nil {
				if err != nil || len(out) != tt.samples {
					t.Fatalf("Decode = %d samples, %v; want %d", len(out), err, tt.samples)
				}
				return
			}
			checkSentinel(t, err, tt.want)
			if tt.message != "" && err.Error() != tt.message {
				t.Errorf("error %q,\nwant    %q", err, tt.message)
			}
		})
	}
}

func TestDecodeFFmpegCancel(t *testing.T) {
	opts := Options{FFmpeg: fakeFFmpeg(t, "exec sleep 30")}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Decode(ctx, mp3Frames(1000), opts)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want one wrapping context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Decode returned after %v", d)
	}
}
