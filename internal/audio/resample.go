package audio

import (
	"math"
	"runtime"
	"sync"
)

// Resampler design. The low-pass filter is a Kaiser-windowed sinc whose
// stop band starts at the Nyquist frequency of the lower of the two rates,
// so nothing above it aliases into the output.
const (
	// halfTaps is the filter's half length, in samples at the lower rate.
	halfTaps = 32
	// kaiserBeta sets the window shape: 8.6 gives about 87 dB of stop-band
	// attenuation.
	kaiserBeta = 8.6
	// maxPhases caps the number of precomputed filter phases. Rate pairs
	// that need more (such as 44101 to 16000 Hz) round each output's
	// position to the nearest of maxPhases steps between input samples.
	maxPhases = 1024
	// maxTable caps the size, in coefficients, of the phase table.
	maxTable = 1 << 21
	// parallelMin is the output length from which work is spread over
	// several goroutines.
	parallelMin = 1 << 16
)

// Resample converts mono samples from one rate to another with a
// band-limited (windowed-sinc, polyphase) filter. Content above half the
// lower rate is removed; the pass band is flat to about 82 % of that
// frequency and the output is aligned with the input (no delay). The
// output holds ceil(len(in)*to/from) samples. When from == to, Resample
// returns in itself. It panics if a rate is not positive.
func Resample(in []float32, from, to int) []float32 {
	if from <= 0 || to <= 0 {
		panic("audio: Resample needs positive sample rates")
	}
	if from == to || len(in) == 0 {
		return in
	}
	g := gcd(from, to)
	r := newResampler(from/g, to/g)
	n := (int64(len(in))*int64(r.up) + int64(r.down) - 1) / int64(r.down)
	out := make([]float32, n)
	workers := runtime.GOMAXPROCS(0)
	if n < parallelMin || workers < 2 {
		r.run(in, out, 0)
		return out
	}
	var wg sync.WaitGroup
	chunk := (len(out) + workers - 1) / workers
	for start := 0; start < len(out); start += chunk {
		end := min(start+chunk, len(out))
		wg.Go(func() { r.run(in, out[start:end], start) })
	}
	wg.Wait()
	return out
}

// resampler converts by the ratio up/down with a table of filter phases.
type resampler struct {
	up, down int       // rate ratio in lowest terms: to/from = up/down
	phases   int       // number of rows in coefs
	width    int       // taps per phase, even
	coefs    []float32 // phases rows of width taps
}

func newResampler(down, up int) *resampler {
	// scale is the lower rate relative to the input rate; the filter's
	// coordinates are input samples.
	scale := min(1, float64(up)/float64(down))
	attenuation := kaiserBeta/0.1102 + 8.7
	transition := (attenuation - 7.95) / (14.36 * 2 * halfTaps) // in lower-rate units
	cutoff := scale * (0.5 - transition/2)                      // cycles per input sample
	half := float64(halfTaps) / scale
	w := int(math.Ceil(half))
	r := &resampler{up: up, down: down, width: 2 * w}
	r.phases = min(up, maxPhases, max(64, maxTable/r.width))
	r.coefs = make([]float32, r.phases*r.width)
	i0beta := besselI0(kaiserBeta)
	for p := 0; p < r.phases; p++ {
		row := r.coefs[p*r.width : (p+1)*r.width]
		frac := float64(p) / float64(r.phases)
		var sum float64
		c := make([]float64, r.width)
		for j := range c {
			// Tap j multiplies input sample ipos-w+1+j for an output at
			// input position ipos+frac.
			d := frac + float64(w-1-j)
			if math.Abs(d) >= half {
				continue
			}
			x := d / half
			win := besselI0(kaiserBeta*math.Sqrt(1-x*x)) / i0beta
			c[j] = 2 * cutoff * sinc(2*cutoff*d) * win
			sum += c[j]
		}
		// Normalise each phase to unit gain at DC.
		for j := range c {
			row[j] = float32(c[j] / sum)
		}
	}
	return r
}

// run computes out, whose first element is output sample number first.
func (r *resampler) run(in, out []float32, first int) {
	w := r.width / 2
	// The output sample n sits at input position n*down/up.
	pos := int64(first) * int64(r.down)
	ipos := int(pos / int64(r.up))
	rem := int(pos % int64(r.up))
	for i := range out {
		p := (rem*r.phases + r.up/2) / r.up
		base := ipos - w + 1
		if p == r.phases {
			p = 0
			base++
		}
		row := r.coefs[p*r.width : (p+1)*r.width]
		if base >= 0 && base+r.width <= len(in) {
			out[i] = dot(row, in[base:base+r.width])
		} else {
			out[i] = dotEdge(row, in, base)
		}
		rem += r.down
		ipos += rem / r.up
		rem %= r.up
	}
}

// dot returns the inner product of two slices of equal length, a multiple
// of two.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// dotEdge is dot for a window that overhangs either end of the input,
// which is taken as silence there.
func dotEdge(row, in []float32, base int) float32 {
	var s float32
	for j, c := range row {
		if k := base + j; k >= 0 && k < len(in) {
			s += c * in[k]
		}
	}
	return s
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the modified Bessel function of the first kind, order zero,
// summed from its power series.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	q := x * x / 4
	for k := 1; k < 500; k++ {
		term *= q / float64(k*k)
		sum += term
		if term < sum*1e-16 {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
