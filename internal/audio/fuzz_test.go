package audio

import (
	"context"
	"errors"
	"math"
	"testing"
)

// wavSeeds returns valid WAV files of every supported form, and each of
// them cut at several points, as fuzzing seeds.
func wavSeeds() [][]byte {
	pcm16 := le16(-32768, -1000, 0, 1000, 32767, 5)
	fmt16 := sized("fmt ", fmtBody(tagPCM, 1, 16000, 16))
	valid := [][]byte{
		simpleWAV(tagPCM, 1, 8000, 8, []byte{0, 1, 127, 128, 255}),
		simpleWAV(tagPCM, 1, 16000, 16, pcm16),
		simpleWAV(tagPCM, 2, 44100, 16, pcm16),
		simpleWAV(tagPCM, 1, 44100, 24, le24(-1<<23, 0, 1<<23-1)),
		simpleWAV(tagPCM, 1, 48000, 32, le32(-1<<31, 0, 1<<31-1)),
		simpleWAV(tagFloat, 1, 48000, 32, f32(-1, 0.5, 2, float32(math.NaN()))),
		simpleWAV(tagFloat, 2, 96000, 64, f64(-1, 0.5, 1e300, math.Inf(1))),
		riff(sized("fmt ", extBody(tagPCM, 6, 48000, 24, 20)), sized("data", make([]byte, 36))),
		riff(sized("fmt ", extBody(tagFloat, 1, 22050, 32, 32)), sized("data", f32(0.1, 0.2))),
		riff(sized("LIST", []byte("INFOodd")), fmt16, sized("data", pcm16)),
		riff(sized("data", pcm16), fmt16),
		riff(fmt16, chunk{"data", 0xffffffff, pcm16}),
		rf64(fmt16, uint64(len(pcm16)), pcm16),
		simpleWAV(7, 1, 8000, 8, []byte{1, 2, 3}),
	}
	seeds := append([][]byte{nil, []byte("RIFF"), []byte("not a wav file")}, valid...)
	for _, v := range valid {
		for _, n := range []int{11, 12, 20, 35, 36, 43, 44, len(v) - 1} {
			if n < len(v) {
				seeds = append(seeds, v[:n])
			}
		}
	}
	return seeds
}

// checkFuzzError fails unless err wraps at least one of the sentinels.
func checkFuzzError(t *testing.T, err error) {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error %q wraps no sentinel", err)
}

func FuzzParseWAV(f *testing.F) {
	for _, s := range wavSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseWAV(data)
		if err != nil {
			checkFuzzError(t, err)
			if p != nil {
				t.Fatal("PCM returned with an error")
			}
			return
		}
		if p.Channels < 1 || p.Channels > maxChannels || p.SampleRate < 1 ||
			p.SampleRate > maxWAVRate {
			t.Fatalf("%d channels at %d Hz", p.Channels, p.SampleRate)
		}
		// Every sample takes at least a byte after a 44-byte header.
		if len(p.Samples) == 0 || len(p.Samples)%p.Channels != 0 ||
			len(p.Samples) > len(data)-44 {
			t.Fatalf("%d samples of %d channels from %d bytes",
				len(p.Samples), p.Channels, len(data))
		}
		for i, v := range p.Samples {
			if !(v >= -1 && v <= 1) {
				t.Fatalf("sample %d = %v", i, v)
			}
		}
	})
}

func FuzzSniff(f *testing.F) {
	for _, s := range wavSeeds()[:8] {
		f.Add(s)
	}
	for _, s := range []string{"ID3\x04\x00\x00\x00\x00\x00\x00", "OggS", "fLaC",
		"\x00\x00\x00\x18ftypmp42", "\x1a\x45\xdf\xa3", "\xff\xfb\x90\x64",
		"\xff\xf1\x50\x80\x02\x1f"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		format, err := Sniff(data)
		switch {
		case len(data) == 0:
			if !errors.Is(err, ErrEmpty) {
				t.Fatalf("empty input: %v, %v", format, err)
			}
		case err != nil:
			if !errors.Is(err, ErrNotAudio) || format != FormatUnknown {
				t.Fatalf("Sniff = %v, %v", format, err)
			}
		case format == FormatUnknown:
			t.Fatal("unknown format without an error")
		}
	})
}

func FuzzDecodeWAV(f *testing.F) {
	for _, s := range wavSeeds() {
		f.Add(s)
	}
	opts := Options{FFmpeg: noFFmpeg, MaxSeconds: 5}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := Decode(context.Background(), data, opts)
		if err != nil {
			checkFuzzError(t, err)
			return
		}
		p, err := ParseWAV(data)
		if err != nil {
			t.Fatalf("Decode succeeded where ParseWAV fails: %v", err)
		}
		want := (int64(p.Frames())*SampleRate + int64(p.SampleRate) - 1) / int64(p.SampleRate)
		if int64(len(out)) != want {
			t.Fatalf("%d samples from %d frames at %d Hz, want %d",
				len(out), p.Frames(), p.SampleRate, want)
		}
		for i, v := range out {
			if !(v >= -1 && v <= 1) {
				t.Fatalf("sample %d = %v", i, v)
			}
		}
	})
}
