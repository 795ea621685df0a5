package audio

import (
	"context"
	"errors"
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
		reads := 0
		out, err := Decode(context.Background(), data, Options{Progress: func() { reads++ }})
		if err != nil {
			t.Fatal(err)
		}
		// 11 s at 16 kHz is 704 KB of float32 samples: more than one
		// pipe read, each reported.
		if reads < 2 {
			t.Errorf("progress reported %d times, want one per pipe read (at least 2)", reads)
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

// An upload that passes for MP4 but is a DASH manifest must not make
// ffmpeg read a file named in it.
func TestFFmpegReadsOnlyTheUpload(t *testing.T) {
	needTool(t, "ffmpeg")
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.m4a")
	conv := exec.Command("ffmpeg", "-loglevel", "error", "-i", jfkWAV(t), "-c:a", "aac", secret)
	if out, err := conv.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	manifest := `<!--ftypjp2 -->
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"
 profiles="urn:mpeg:dash:profile:isoff-on-demand:2011"
 mediaPresentationDuration="PT11S" minBufferTime="PT1S">
 <Period><AdaptationSet mimeType="audio/mp4">
  <Representation id="a" bandwidth="128000"><BaseURL>file://` + secret + `</BaseURL>
  </Representation></AdaptationSet></Period></MPD>
`
	if f, _ := Sniff([]byte(manifest)); f != FormatMP4 {
		t.Fatalf("Sniff = %v; the manifest no longer passes for MP4, rework this test", f)
	}
	out, err := Decode(context.Background(), []byte(manifest), Options{})
	if err == nil {
		t.Fatalf("decoded %d samples from a manifest naming another file", len(out))
	}
	checkSentinel(t, err, ErrMalformed)
}

// An ffmpeg that dies by a signal (as when the kernel kills it for memory)
// is the server's trouble: the error says so, so the job can be retried.
func TestKilledFFmpegIsADecoderFailure(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "ffmpeg")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nkill -9 $$\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(jfkMP3(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Decode(context.Background(), data, Options{FFmpeg: fake})
	checkSentinel(t, err, ErrDecoder)
	if errors.Is(err, ErrMalformed) {
		t.Errorf("a killed decoder is blamed on the file: %v", err)
	}
}
