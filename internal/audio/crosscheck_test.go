package audio

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ffmpegDecode decodes a file with the ffmpeg command line to 16 kHz mono
// float32, as a reference. rematrix_maxval 1 makes ffmpeg's stereo downmix
// an average, as ours is, instead of 0.707 × (left + right).
func ffmpegDecode(t *testing.T, path string) []float32 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
		"-i", path, "-f", "f32le", "-ac", "1", "-rematrix_maxval", "1", "-ar", "16000",
		"pipe:1").Output()
	if err != nil {
		t.Fatalf("ffmpeg %s: %v", path, err)
	}
	s := make([]float32, len(out)/4)
	for i := range s {
		s[i] = math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:]))
	}
	return s
}

// compare returns the signal-to-difference ratio in dB of got against ref
// when got is shifted by lag samples, and the largest absolute difference.
func compare(got, ref []float32, lag int) (snr, maxDiff float64) {
	var sig, diff float64
	for i := range ref {
		j := i + lag
		if j < 0 || j >= len(got) {
			continue
		}
		d := float64(got[j]) - float64(ref[i])
		sig += float64(ref[i]) * float64(ref[i])
		diff += d * d
		maxDiff = max(maxDiff, math.Abs(d))
	}
	return 10 * math.Log10(sig/diff), maxDiff
}

// TestCrossCheckFFmpeg converts real speech with sox into awkward WAV forms,
// then decodes each natively and with ffmpeg and compares the two.
//
// The results cannot be equal: ffmpeg's default resampler (swr) uses a
// different filter (filter_size 32, Kaiser beta 9, per ffmpeg -h full) with
// its cutoff closer to Nyquist, while ours is down 0.8 dB at 7 kHz and 13 dB
// at 7.5 kHz (3.5 and 3.75 kHz for 8 kHz input) so that nothing aliases.
// Measured on jfk.wav, against ffmpeg 9.0: SNR 75.6 dB, max abs difference
// 0.0019 for the 22.05, 44.1 and 48 kHz files; SNR 40.0 dB, max abs
// difference 0.014-0.016 for 8 kHz 8-bit, whose dither noise fills the band
// up to 4 kHz where the two filters differ most. The tolerances leave
// about 5-10 dB of margin and stay far above what a wrong channel average
// (3-6 dB), a one-sample shift or a scale error would give.
func TestCrossCheckFFmpeg(t *testing.T) {
	needTool(t, "sox")
	needTool(t, "ffmpeg")
	src := jfkWAV(t)
	dir := t.TempDir()
	tests := []struct {
		name    string
		sox     []string // output options for sox
		minSNR  float64  // dB
		maxDiff float64
	}{
		{"stereo 44.1 kHz 24-bit", []string{"-c", "2", "-r", "44100", "-b", "24"}, 65, 0.005},
		{"8 kHz 8-bit unsigned", []string{"-r", "8000", "-b", "8", "-e", "unsigned-integer"},
			35, 0.03},
		{"48 kHz float32", []string{"-r", "48000", "-b", "32", "-e", "floating-point"},
			65, 0.005},
		{"22.05 kHz 16-bit", []string{"-r", "22050", "-b", "16"}, 65, 0.005},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, string(rune('a'+i))+".wav")
			args := append([]string{"-q", src}, tt.sox...)
			if out, err := exec.Command("sox", append(args, path)...).CombinedOutput(); err != nil {
				t.Fatalf("sox: %v\n%s", err, out)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(context.Background(), data, Options{FFmpeg: noFFmpeg})
			if err != nil {
				t.Fatal(err)
			}
			ref := ffmpegDecode(t, path)
			if d := len(got) - len(ref); d < -2 || d > 2 {
				t.Errorf("%d samples, ffmpeg gives %d", len(got), len(ref))
			}
			snr, maxDiff := compare(got, ref, 0)
			for lag := -3; lag <= 3; lag++ {
				if s, _ := compare(got, ref, lag); lag != 0 && s >= snr {
					t.Errorf("lag %d matches better (%.1f dB) than lag 0 (%.1f dB)",
						lag, s, snr)
				}
			}
			t.Logf("%d samples (ffmpeg %d), SNR %.3f dB, max abs diff %.6f, ref RMS %.6f",
				len(got), len(ref), snr, maxDiff, rms(ref))
			if snr < tt.minSNR || maxDiff > tt.maxDiff {
				t.Errorf("SNR %.1f dB, max diff %.4f; want ≥ %g dB, ≤ %g",
					snr, maxDiff, tt.minSNR, tt.maxDiff)
			}
		})
	}
}
