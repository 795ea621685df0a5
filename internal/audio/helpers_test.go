package audio

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// chunk is one RIFF chunk for buildWAV.
type chunk struct {
	id   string
	size uint32 // written as the size field; the body is written as is
	body []byte
}

// sized returns a chunk whose size field matches its body.
func sized(id string, body []byte) chunk { return chunk{id, uint32(len(body)), body} }

// riff assembles a RIFF/WAVE file, padding odd-sized bodies, with a RIFF
// size field that matches the content.
func riff(chunks ...chunk) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WAVE")
	for _, c := range chunks {
		b = append(b, c.id...)
		b = binary.LittleEndian.AppendUint32(b, c.size)
		b = append(b, c.body...)
		if len(c.body)%2 == 1 {
			b = append(b, 0)
		}
	}
	binary.LittleEndian.PutUint32(b[4:8], uint32(len(b)-8))
	return b
}

// fmtBody is a 16-byte fmt chunk body.
func fmtBody(tag uint16, channels, rate, bits int) []byte {
	width := (bits + 7) / 8
	b := binary.LittleEndian.AppendUint16(nil, tag)
	b = binary.LittleEndian.AppendUint16(b, uint16(channels))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate*channels*width))
	b = binary.LittleEndian.AppendUint16(b, uint16(channels*width))
	return binary.LittleEndian.AppendUint16(b, uint16(bits))
}

// extBody is a 40-byte WAVE_FORMAT_EXTENSIBLE fmt chunk body.
func extBody(sub uint16, channels, rate, bits, valid int) []byte {
	b := fmtBody(tagExtensible, channels, rate, bits)
	b = binary.LittleEndian.AppendUint16(b, 22)
	b = binary.LittleEndian.AppendUint16(b, uint16(valid))
	b = binary.LittleEndian.AppendUint32(b, 0x3f) // 5.1 speaker mask
	b = binary.LittleEndian.AppendUint16(b, sub)
	return append(b, extensibleTail...)
}

// simpleWAV is a plain WAV with the given encoding and sample bytes.
func simpleWAV(tag uint16, channels, rate, bits int, data []byte) []byte {
	return riff(sized("fmt ", fmtBody(tag, channels, rate, bits)), sized("data", data))
}

// le16 encodes 16-bit samples.
func le16(v ...int16) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, uint16(x))
	}
	return b
}

// le24 encodes 24-bit samples.
func le24(v ...int32) []byte {
	var b []byte
	for _, x := range v {
		b = append(b, byte(x), byte(x>>8), byte(x>>16))
	}
	return b
}

// le32 encodes 32-bit integer samples.
func le32(v ...int32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, uint32(x))
	}
	return b
}

// f32 encodes 32-bit float samples.
func f32(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// f64 encodes 64-bit float samples.
func f64(v ...float64) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

// sine returns n samples of a sine of the given frequency and amplitude.
func sine(n, rate int, freq, amp float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return s
}

// rms returns the root mean square of s.
func rms(s []float32) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(s)))
}

// db converts an amplitude ratio to decibels.
func db(ratio float64) float64 { return 20 * math.Log10(ratio) }

// sentinels are the errors every failure must wrap one of.
var sentinels = []error{ErrEmpty, ErrMalformed, ErrUnsupported, ErrNotAudio, ErrTooLong}

// checkSentinel fails unless err wraps exactly want.
func checkSentinel(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want one wrapping %q", err, want)
	}
	if !strings.HasPrefix(err.Error(), "audio: ") {
		t.Errorf("error %q lacks the audio: prefix", err)
	}
	for _, s := range sentinels {
		if s != want && errors.Is(err, s) {
			t.Errorf("error %q also matches %q", err, s)
		}
	}
}

// jfkWAV returns the path of the 11 s speech sample shipped with the
// whisper.cpp Go bindings, skipping the test when it cannot be found.
func jfkWAV(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}",
		"github.com/ggerganov/whisper.cpp/bindings/go").Output()
	if err != nil {
		t.Skipf("whisper.cpp bindings module not found: %v", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "samples", "jfk.wav")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("jfk.wav not found: %v", err)
	}
	return path
}

// jfkMP3 returns the path of the shared MP3 speech sample, or skips.
func jfkMP3(t *testing.T) string {
	t.Helper()
	path := filepath.Join("..", "..", "..", "shared", "data", "jfk.mp3")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("jfk.mp3 not found: %v", err)
	}
	return path
}

// needTool skips the test when a program is not installed.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed", name)
	}
}

// noFFmpeg names a program that does not exist, so that Decode cannot fall
// back to ffmpeg.
const noFFmpeg = "/nonexistent/ffmpeg"
