package audio

import (
	"encoding/binary"
	"math"
	"runtime"
	"slices"
	"testing"
)

func TestParseWAVFormats(t *testing.T) {
	const max32 = 1<<31 - 1
	tests := []struct {
		name     string
		file     []byte
		rate     int
		channels int
		want     []float32
	}{
		{
			name: "8-bit unsigned",
			file: simpleWAV(tagPCM, 1, 8000, 8, []byte{0, 64, 128, 192, 255}),
			rate: 8000, channels: 1,
			want: []float32{-1, -0.5, 0, 0.5, 127.0 / 128},
		},
		{
			name: "16-bit",
			file: simpleWAV(tagPCM, 1, 16000, 16, le16(-32768, -16384, 0, 1, 32767)),
			rate: 16000, channels: 1,
			want: []float32{-1, -0.5, 0, 1.0 / 32768, 32767.0 / 32768},
		},
		{
			name: "12-bit in 16-bit containers",
			file: simpleWAV(tagPCM, 1, 16000, 12, le16(-32768, 0x7ff0)),
			rate: 16000, channels: 1,
			want: []float32{-1, 0x7ff0 / 32768.0},
		},
		{
			name: "24-bit",
			file: simpleWAV(tagPCM, 1, 44100, 24, le24(-1<<23, -1<<22, 0, 1, 1<<23-1)),
			rate: 44100, channels: 1,
			want: []float32{-1, -0.5, 0, 1.0 / (1 << 23), (1<<23 - 1) / float32(1<<23)},
		},
		{
			name: "32-bit",
			file: simpleWAV(tagPCM, 1, 48000, 32, le32(-1<<31, -1<<30, 0, 1<<30, max32)),
			rate: 48000, channels: 1,
			want: []float32{-1, -0.5, 0, 0.5, 1},
		},
		{
			name: "float32, clipped and NaN",
			file: simpleWAV(tagFloat, 1, 48000, 32, f32(-1, -0.25, 0, 0.75, 1.5,
				float32(math.NaN()), float32(math.Inf(-1)))),
			rate: 48000, channels: 1,
			want: []float32{-1, -0.25, 0, 0.75, 1, 0, -1},
		},
		{
			name: "float64",
			file: simpleWAV(tagFloat, 1, 96000, 64, f64(-0.5, 0.125, 1e300, math.NaN())),
			rate: 96000, channels: 1,
			want: []float32{-0.5, 0.125, 1, 0},
		},
		{
			name: "extensible 20 valid bits in 24",
			file: riff(sized("fmt ", extBody(tagPCM, 1, 22050, 24, 20)),
				sized("data", le24(-1<<23, 0x123450))),
			rate: 22050, channels: 1,
			want: []float32{-1, 0x123450 / float32(1<<23)},
		},
		{
			name: "extensible 8-bit",
			file: riff(sized("fmt ", extBody(tagPCM, 1, 8000, 8, 8)),
				sized("data", []byte{0, 255})),
			rate: 8000, channels: 1,
			want: []float32{-1, 127.0 / 128},
		},
		{
			name: "extensible float",
			file: riff(sized("fmt ", extBody(tagFloat, 2, 32000, 32, 32)),
				sized("data", f32(0.5, -0.5, 0.25, -0.25))),
			rate: 32000, channels: 2,
			want: []float32{0.5, -0.5, 0.25, -0.25},
		},
		{
			name: "stereo 16-bit",
			file: simpleWAV(tagPCM, 2, 44100, 16, le16(16384, -16384, 8192, 0)),
			rate: 44100, channels: 2,
			want: []float32{0.5, -0.5, 0.25, 0},
		},
		{
			name: "6 channels extensible 16-bit",
			file: riff(sized("fmt ", extBody(tagPCM, 6, 48000, 16, 16)),
				sized("data", le16(8192, 16384, -8192, 0, 32767, -32768,
					1, 2, 3, 4, 5, 6))),
			rate: 48000, channels: 6,
			want: []float32{0.25, 0.5, -0.25, 0, 32767.0 / 32768, -1,
				1.0 / 32768, 2.0 / 32768, 3.0 / 32768, 4.0 / 32768, 5.0 / 32768, 6.0 / 32768},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseWAV(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if p.SampleRate != tt.rate || p.Channels != tt.channels {
				t.Errorf("rate, channels = %d, %d, want %d, %d",
					p.SampleRate, p.Channels, tt.rate, tt.channels)
			}
			if !slices.Equal(p.Samples, tt.want) {
				t.Errorf("samples = %v,\nwant      %v", p.Samples, tt.want)
			}
		})
	}
}

func TestParseWAVLayout(t *testing.T) {
	pcm := le16(100, 200, 300)
	fmtChunk := sized("fmt ", fmtBody(tagPCM, 1, 16000, 16))
	streamed := func(riffSize, dataSize uint32) []byte {
		b := riff(fmtChunk, chunk{"data", dataSize, pcm})
		binary.LittleEndian.PutUint32(b[4:8], riffSize)
		return b
	}
	tests := []struct {
		name string
		file []byte
	}{
		{"odd LIST chunk before fmt", riff(sized("LIST", []byte("INFOabc")), fmtChunk,
			sized("data", pcm))},
		{"unknown chunks", riff(sized("JUNK", make([]byte, 28)), fmtChunk,
			sized("fact", []byte{3, 0, 0, 0}), sized("data", pcm), sized("id3 ", []byte("x")))},
		{"data before fmt", riff(sized("data", pcm), fmtChunk)},
		{"fmt chunk with cbSize", riff(sized("fmt ", append(fmtBody(tagPCM, 1, 16000, 16), 0, 0)),
			sized("data", pcm))},
		{"trailing partial frame", riff(fmtChunk, sized("data", append(pcm, 0x55)))},
		{"streamed, sizes 0xFFFFFFFF", streamed(0xffffffff, 0xffffffff)},
		{"streamed, sizes 0", streamed(0, 0)},
		{"streamed, header-only sizes", streamed(36, 0)},
		{"streamed, sox-style placeholder", streamed(0x7ffff024, 0x7ffff000)},
		{"truncated chunk after data", append(riff(fmtChunk, sized("data", pcm)),
			"LIST\xff\x00\x00\x00abc"...)},
		{"RF64", rf64(fmtChunk, uint64(len(pcm)), pcm)},
		{"RF64 streamed", rf64(fmtChunk, math.MaxUint64, pcm)},
	}
	want := []float32{100.0 / 32768, 200.0 / 32768, 300.0 / 32768}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseWAV(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Samples, want) {
				t.Errorf("samples = %v, want %v", p.Samples, want)
			}
		})
	}
}

// rf64 builds an RF64 file whose data chunk has size 0xFFFFFFFF and whose
// ds64 chunk declares dataSize.
func rf64(fmtChunk chunk, dataSize uint64, pcm []byte) []byte {
	ds := binary.LittleEndian.AppendUint64(nil, 0xffffffffffffffff)
	ds = binary.LittleEndian.AppendUint64(ds, dataSize)
	ds = binary.LittleEndian.AppendUint64(ds, dataSize/2)
	ds = binary.LittleEndian.AppendUint32(ds, 0)
	b := riff(sized("ds64", ds), fmtChunk, chunk{"data", 0xffffffff, pcm})
	copy(b, "RF64\xff\xff\xff\xff")
	return b
}

func TestPCMMono(t *testing.T) {
	p, err := ParseWAV(simpleWAV(tagPCM, 3, 8000, 16, le16(3000, 6000, 0, -300, -300, -300)))
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{3000.0 / 32768, -300.0 / 32768}
	if got := p.Mono(); !slices.Equal(got, want) {
		t.Errorf("Mono() = %v, want %v", got, want)
	}
	if p.Frames() != 2 || p.Duration().Microseconds() != 250 {
		t.Errorf("Frames, Duration = %d, %v, want 2, 250µs", p.Frames(), p.Duration())
	}
}

func TestParseWAVErrors(t *testing.T) {
	pcm := le16(1, 2, 3, 4)
	fmtChunk := sized("fmt ", fmtBody(tagPCM, 1, 16000, 16))
	good := riff(fmtChunk, sized("data", pcm))
	withFmt := func(body []byte) []byte { return riff(sized("fmt ", body), sized("data", pcm)) }
	badAlign := fmtBody(tagPCM, 2, 16000, 16)
	binary.LittleEndian.PutUint16(badAlign[12:], 3)
	tests := []struct {
		name string
		file []byte
		want error
	}{
		{"empty", nil, ErrEmpty},
		{"text", []byte("hello, this is not a sound file at all"), ErrNotAudio},
		{"short text", []byte("hi"), ErrNotAudio},
		{"RIFF but AVI", []byte("RIFF\x00\x00\x00\x00AVI LIST"), ErrNotAudio},
		{"only RIFF", []byte("RIFF"), ErrMalformed},
		{"header cut at 12", good[:12], ErrMalformed},
		{"header cut in fmt", good[:30], ErrMalformed},
		{"header cut before data", good[:36], ErrMalformed},
		{"header cut in data header", good[:40], ErrMalformed},
		{"data cut short", good[:len(good)-3], ErrMalformed},
		{"header only, no samples", riff(fmtChunk, sized("data", nil)), ErrEmpty},
		{"one byte of 16-bit data", riff(fmtChunk, sized("data", []byte{1})), ErrEmpty},
		{"no data chunk", riff(fmtChunk, sized("LIST", []byte("INFO"))), ErrMalformed},
		{"no fmt chunk", riff(sized("data", pcm)), ErrMalformed},
		{"fmt too short", withFmt(fmtBody(tagPCM, 1, 16000, 16)[:14]), ErrMalformed},
		{"0 channels", withFmt(fmtBody(tagPCM, 0, 16000, 16)), ErrMalformed},
		{"300 channels", withFmt(fmtBody(tagPCM, 300, 16000, 16)), ErrMalformed},
		{"0 Hz", withFmt(fmtBody(tagPCM, 1, 0, 16)), ErrMalformed},
		{"2 Hz, a small file claiming hours", withFmt(fmtBody(tagPCM, 1, 2, 16)), ErrMalformed},
		{"999 Hz", withFmt(fmtBody(tagPCM, 1, 999, 16)), ErrMalformed},
		{"4 GHz", withFmt(fmtBody(tagPCM, 1, 4e9, 16)), ErrMalformed},
		{"block align mismatch", withFmt(badAlign), ErrMalformed},
		{"0 bits", withFmt(fmtBody(tagPCM, 1, 16000, 0)), ErrUnsupported},
		{"64-bit integer", withFmt(fmtBody(tagPCM, 1, 16000, 64)), ErrUnsupported},
		{"16-bit float", withFmt(fmtBody(tagFloat, 1, 16000, 16)), ErrUnsupported},
		{"µ-law", withFmt(fmtBody(7, 1, 8000, 8)), ErrUnsupported},
		{"IMA ADPCM", withFmt(fmtBody(0x11, 1, 8000, 4)), ErrUnsupported},
		{"extensible GUID unknown", withFmt(append(extBody(1, 1, 8000, 16, 16)[:39], 0)),
			ErrUnsupported},
		{"extensible µ-law", withFmt(extBody(7, 1, 8000, 8, 8)), ErrUnsupported},
		{"extensible too short", withFmt(extBody(1, 1, 8000, 16, 16)[:30]), ErrMalformed},
		{"extensible valid > bits", withFmt(extBody(1, 1, 8000, 16, 20)), ErrMalformed},
		{"RF64 without ds64", append([]byte("RF64\xff\xff\xff\xffWAVE"), good[12:]...),
			ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseWAV(tt.file)
			if p != nil {
				t.Errorf("got PCM with %d samples despite error", len(p.Samples))
			}
			checkSentinel(t, err, tt.want)
		})
	}
}

func TestParseWAVTruncationMessage(t *testing.T) {
	file := simpleWAV(tagPCM, 2, 22050, 16, make([]byte, 88200))[:44+1200]
	_, err := ParseWAV(file)
	want := "audio: malformed audio: WAV data chunk declares 88200 bytes " +
		"but only 1200 are present (file truncated?)"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

// TestParseWAVHostileSizes checks that sizes declared in headers are never
// trusted for allocation.
func TestParseWAVHostileSizes(t *testing.T) {
	pcm := le16(1, 2)
	fmtChunk := sized("fmt ", fmtBody(tagPCM, 1, 16000, 16))
	tests := []struct {
		name string
		file []byte
		want error // nil: parses, keeping only the bytes present
	}{
		{"4 GB data chunk", riff(fmtChunk, chunk{"data", 0xfffffff0, pcm}), nil},
		{"2 GB data chunk", riff(fmtChunk, chunk{"data", 0x7fffefff, pcm}), ErrMalformed},
		{"4 GB fmt chunk", riff(chunk{"fmt ", 0xffffffff, fmtBody(tagPCM, 1, 16000, 16)},
			sized("data", pcm)), ErrMalformed},
		{"4 GB LIST before fmt", riff(chunk{"LIST", 0xffffffff, nil}, fmtChunk,
			sized("data", pcm)), ErrMalformed},
		{"RF64 with 4 EB data", rf64(fmtChunk, 1<<62, pcm), ErrMalformed},
		{"RF64 with 4 GB ds64", func() []byte {
			b := rf64(fmtChunk, 4, pcm)
			binary.LittleEndian.PutUint32(b[16:20], 0xffffffff)
			return b
		}(), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := ParseWAV(tt.file)
			runtime.ReadMemStats(&after)
			if tt.want == nil && err != nil {
				t.Fatal(err)
			}
			if tt.want != nil {
				checkSentinel(t, err, tt.want)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
				t.Errorf("allocated %d bytes", n)
			}
		})
	}
}
