package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/asr-server/asr-server/internal/audio"
)

// wavHeader is the size of a canonical PCM WAV header.
const wavHeader = 44

// EncodeWAV writes samples in [-1, 1] as a 16 kHz mono 16-bit PCM WAV.
func EncodeWAV(samples []float32) []byte {
	data := 2 * len(samples)
	b := make([]byte, wavHeader+data)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(wavHeader-8+data))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], audio.SampleRate)
	binary.LittleEndian.PutUint32(b[28:], 2*audio.SampleRate)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(data))
	for i, s := range samples {
		v := int16(math.Round(float64(max(-1, min(1, s))) * math.MaxInt16))
		binary.LittleEndian.PutUint16(b[wavHeader+2*i:], uint16(v))
	}
	return b
}

// SizedWAV returns a WAV file of exactly size bytes (rounded down to a
// whole sample): a quiet 440 Hz tone.
func SizedWAV(size int) []byte {
	n := max(size-wavHeader, 0) / 2
	samples := make([]float32, n)
	for i := range samples {
		samples[i] = float32(0.1 * math.Sin(2*math.Pi*440*float64(i)/audio.SampleRate))
	}
	return EncodeWAV(samples)
}

// DecodeSpeech decodes a speech file to 16 kHz mono samples, as a worker
// does.
func DecodeSpeech(wav []byte) ([]float32, error) {
	samples, err := audio.Decode(context.Background(), wav, audio.Options{})
	if err != nil {
		return nil, fmt.Errorf("bench: decode speech: %w", err)
	}
	return samples, nil
}

// Repeat returns samples n times over.
func Repeat(samples []float32, n int) []float32 {
	out := make([]float32, 0, n*len(samples))
	for range n {
		out = append(out, samples...)
	}
	return out
}

// Seconds returns the duration of 16 kHz samples.
func Seconds(samples []float32) float64 {
	return float64(len(samples)) / audio.SampleRate
}
