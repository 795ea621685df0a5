package audio

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// toneResponse resamples two seconds of a sine at freq and returns the
// output's level relative to the input's, in dB, and the signal-to-error
// ratio, in dB, of the output against an ideal sine at the output rate.
// The first and last 0.1 s are left out, where the filter overhangs the
// ends of the input.
func toneResponse(from, to int, freq float64) (gain, snr float64) {
	const amp = 0.5
	out := Resample(sine(2*from, from, freq, amp), from, to)
	ideal := sine(len(out), to, freq, amp)
	edge := to / 10
	out, ideal = out[edge:len(out)-edge], ideal[edge:len(ideal)-edge]
	var diff float64
	for i := range out {
		d := float64(out[i] - ideal[i])
		diff += d * d
	}
	diff = math.Sqrt(diff / float64(len(out)))
	return db(rms(out) / (amp / math.Sqrt2)), db(amp / math.Sqrt2 / diff)
}

func TestResamplePassBand(t *testing.T) {
	tests := []struct {
		from, to int
		freq     float64
		maxLoss  float64 // dB
		minSNR   float64 // dB, against the ideal sine: catches delay and distortion
	}{
		{44100, 16000, 1000, 0.01, 70},
		{44100, 16000, 3000, 0.01, 70},
		{44100, 16000, 6000, 0.05, 40},
		{48000, 16000, 1000, 0.01, 70},
		{22050, 16000, 1000, 0.01, 70},
		{44101, 16000, 1000, 0.01, 70}, // nearest of 1024 phases
		{8000, 16000, 1000, 0.01, 70},
		{8000, 16000, 3000, 0.01, 70},
		{11025, 16000, 2000, 0.01, 70},
		{16000, 44100, 5000, 0.01, 70},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d-%d-%g", tt.from, tt.to, tt.freq), func(t *testing.T) {
			gain, snr := toneResponse(tt.from, tt.to, tt.freq)
			t.Logf("gain %.4f dB, SNR %.1f dB", gain, snr)
			if math.Abs(gain) > tt.maxLoss {
				t.Errorf("gain %.4f dB, want within ±%g dB", gain, tt.maxLoss)
			}
			if snr < tt.minSNR {
				t.Errorf("SNR %.1f dB against the ideal sine, want ≥ %g dB", snr, tt.minSNR)
			}
		})
	}
}

// TestResampleStopBand proves the filter is band-limited: tones above the
// output's Nyquist frequency (8 kHz) are removed rather than folded back.
func TestResampleStopBand(t *testing.T) {
	tests := []struct {
		from, to int
		freq     float64
	}{
		{44100, 16000, 8200},
		{44100, 16000, 10000},
		{44100, 16000, 15000},
		{44100, 16000, 20000},
		{48000, 16000, 9000},
		{22050, 16000, 10000},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d-%d-%g", tt.from, tt.to, tt.freq), func(t *testing.T) {
			gain, _ := toneResponse(tt.from, tt.to, tt.freq)
			t.Logf("gain %.1f dB", gain)
			if gain > -60 {
				t.Errorf("gain %.1f dB, want ≤ -60 dB", gain)
			}
		})
	}
}

// TestResampleTransition records the response between the pass band and
// Nyquist, where it must fall monotonically.
func TestResampleTransition(t *testing.T) {
	last := 0.0
	for _, freq := range []float64{6500, 7000, 7500, 7900} {
		gain, _ := toneResponse(44100, 16000, freq)
		t.Logf("%g Hz: %.2f dB", freq, gain)
		if gain > last+0.01 {
			t.Errorf("%g Hz: gain %.2f dB rises above %.2f dB", freq, gain, last)
		}
		last = gain
	}
}

// TestResampleNoImages checks that upsampling does not create the mirror
// image of a tone above the input's Nyquist frequency.
func TestResampleNoImages(t *testing.T) {
	out := Resample(sine(16000, 8000, 3000, 0.5), 8000, 16000)
	out = out[1600 : len(out)-1600]
	// Level of the 5 kHz image, by correlation with a 5 kHz sine and cosine.
	var s, c float64
	for i, v := range out {
		ph := 2 * math.Pi * 5000 * float64(i+1600) / 16000
		s += float64(v) * math.Sin(ph)
		c += float64(v) * math.Cos(ph)
	}
	level := 2 * math.Hypot(s, c) / float64(len(out))
	if g := db(level / 0.5); g > -80 {
		t.Errorf("5 kHz image at %.1f dB, want ≤ -80 dB", g)
	}
}

func TestResampleEdges(t *testing.T) {
	in := []float32{0.1, 0.2, 0.3}
	if got := Resample(in, 16000, 16000); &got[0] != &in[0] {
		t.Error("Resample with equal rates copied the input")
	}
	if got := Resample(nil, 8000, 16000); len(got) != 0 {
		t.Errorf("Resample(nil) has %d samples", len(got))
	}
	lengths := []struct{ n, from, to, want int }{
		{1, 44100, 16000, 1},
		{441, 44100, 16000, 160},
		{442, 44100, 16000, 161},
		{3, 8000, 16000, 6},
		{5, 48000, 16000, 2},
		{1, 1, 16000, 16000},
	}
	for _, l := range lengths {
		if got := len(Resample(make([]float32, l.n), l.from, l.to)); got != l.want {
			t.Errorf("%d samples %d→%d Hz: %d out, want %d", l.n, l.from, l.to, got, l.want)
		}
	}
	// A constant signal stays constant away from the ends.
	dc := make([]float32, 44100)
	for i := range dc {
		dc[i] = 0.3
	}
	out := Resample(dc, 44100, 16000)
	for i := 200; i < len(out)-200; i++ {
		if math.Abs(float64(out[i])-0.3) > 1e-6 {
			t.Fatalf("DC output[%d] = %v, want 0.3", i, out[i])
		}
	}
}

func TestResamplePanicsOnBadRate(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for rate 0")
		}
	}()
	Resample([]float32{1}, 0, 16000)
}

// BenchmarkResample converts one minute of audio; the real-time factor is
// reported as x_realtime (seconds of audio per second of work).
func BenchmarkResample(b *testing.B) {
	for _, from := range []int{8000, 22050, 44100, 48000} {
		b.Run(fmt.Sprint(from), func(b *testing.B) {
			in := sine(60*from, from, 440, 0.5)
			start := time.Now()
			for b.Loop() {
				Resample(in, from, SampleRate)
			}
			per := time.Since(start).Seconds() / float64(b.N)
			b.ReportMetric(60/per, "x_realtime")
		})
	}
}
