package audio

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecodeMP3(t *testing.T) {
	data, err := os.ReadFile(jfkMP3(t))
	if err != nil {
		t.Fatal(err)
	}
	if f, err := Sniff(data[:512]); f != FormatMP3 || err != nil {
		t.Errorf("Sniff = %v, %v, want MP3", f, err)
	}
	t.Run("without ffmpeg", func(t *testing.T) {
		_, err := Decode(context.Background(), data, Options{FFmpeg: noFFmpeg})
		checkSentinel(t, err, ErrUnsupported)
		if !strings.Contains(err.Error(), "install ffmpeg") {
			t.Errorf("error %q does not say to install ffmpeg", err)
		}
	})
	t.Run("ffmpeg", func(t *testing.T) {
		needTool(t, "ffmpeg")
		out, err := Decode(context.Background(), data, Options{})
		if err != nil {
			t.Fatal(err)
		}
		secs := float64(len(out)) / SampleRate
		t.Logf("%.3f s, RMS %.4f", secs, rms(out))
		if secs < 10.9 || secs > 11.2 || rms(out) < 0.05 {
			t.Errorf("%.3f s of audio at RMS %.4f, want about 11 s of speech", secs, rms(out))
		}
	})
	t.Run("over the limit", func(t *testing.T) {
		needTool(t, "ffmpeg")
		_, err := Decode(context.Background(), data, Options{MaxSeconds: 5})
		checkSentinel(t, err, ErrTooLong)
	})
}

// TestDecodeThroughFFmpeg converts jfk.wav with ffmpeg to formats that only
// ffmpeg decodes and checks that each comes back as about 11 s of audio.
func TestDecodeThroughFFmpeg(t *testing.T) {
	needTool(t, "ffmpeg")
	src := jfkWAV(t)
	dir := t.TempDir()
	tests := []struct {
		name   string
		file   string
		args   []string
		format Format
	}{
		{"M4A, index at the end", "a.m4a", []string{"-c:a", "aac"}, FormatMP4},
		{"FLAC", "a.flac", nil, FormatFLAC},
		{"Ogg Opus", "a.ogg", []string{"-c:a", "libopus"}, FormatOgg},
		{"WebM Opus", "a.webm", []string{"-c:a", "libopus"}, FormatWebM},
		{"µ-law WAV", "mulaw.wav", []string{"-c:a", "pcm_mulaw"}, FormatWAV},
		{"IMA ADPCM WAV", "adpcm.wav", []string{"-c:a", "adpcm_ima_wav"}, FormatWAV},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			args := append([]string{"-nostdin", "-loglevel", "error", "-i", src}, tt.args...)
			msg, err := exec.Command("ffmpeg", append(args, path)...).CombinedOutput()
			if err != nil {
				t.Skipf("ffmpeg cannot write %s: %v\n%s", tt.file, err, msg)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if f, _ := Sniff(data); f != tt.format {
				t.Errorf("Sniff = %v, want %v", f, tt.format)
			}
			out, err := Decode(context.Background(), data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if secs := float64(len(out)) / SampleRate; secs < 10.9 || secs > 11.2 {
				t.Errorf("%.3f s of audio, want about 11 s", secs)
			}
		})
	}
}

func TestDecodeFFmpegRejects(t *testing.T) {
	needTool(t, "ffmpeg")
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"Ogg garbage", append([]byte("OggS"), make([]byte, 2000)...), ErrMalformed},
		{"MP4 without boxes", []byte("\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00garbage!"),
			ErrMalformed},
		{"FLAC header only", []byte("fLaC\x00\x00\x00\x22"), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(context.Background(), tt.data, Options{})
			t.Logf("%v", err)
			checkSentinel(t, err, tt.want)
		})
	}
}
