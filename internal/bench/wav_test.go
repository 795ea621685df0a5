package bench

import (
	"math"
	"testing"
)

func TestEncodeWAVDecodes(t *testing.T) {
	in := []float32{0, 0.5, -0.5, 1, -1, 0.25}
	got, err := DecodeSpeech(EncodeWAV(Repeat(in, 3000)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3*len(in)*1000 {
		t.Fatalf("%d samples decoded, want %d", len(got), 3*len(in)*1000)
	}
	for i, v := range got {
		if want := in[i%len(in)]; math.Abs(float64(v-want)) > 1.0/32767 {
			t.Fatalf("sample %d = %v, want %v", i, v, want)
		}
	}
	if s := Seconds(got); s != 18000.0/16000 {
		t.Errorf("Seconds = %v, want 1.125", s)
	}
}

func TestSizedWAV(t *testing.T) {
	for _, size := range []int{32 << 10, 1 << 20, 44 + 32000} {
		b := SizedWAV(size)
		if len(b) != size {
			t.Errorf("SizedWAV(%d) is %d bytes", size, len(b))
		}
		samples, err := DecodeSpeech(b)
		if err != nil {
			t.Fatalf("SizedWAV(%d): %v", size, err)
		}
		if len(samples) != (size-44)/2 {
			t.Errorf("SizedWAV(%d) holds %d samples, want %d", size, len(samples),
				(size-44)/2)
		}
	}
}
