package audio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// WAVE format tags (the first field of the fmt chunk).
const (
	tagPCM        = 0x0001
	tagFloat      = 0x0003
	tagExtensible = 0xfffe
)

// Limits beyond which a fmt chunk is taken for garbage rather than audio.
// The lowest rate also bounds how much audio a small upload can declare:
// at 2 Hz, 28 KB would claim two hours.
const (
	maxChannels = 256
	minWAVRate  = 1000
	maxWAVRate  = 1_000_000
)

// extensibleTail is the part shared by every KSDATAFORMAT_SUBTYPE GUID of a
// WAVE_FORMAT_EXTENSIBLE fmt chunk; the first two bytes hold the format tag.
var extensibleTail = []byte{
	0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00,
	0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
}

// Names of common compressed WAVE encodings, for error messages.
var wavCodecNames = map[uint16]string{
	0x0002: "MS ADPCM",
	0x0006: "A-law",
	0x0007: "µ-law",
	0x0011: "IMA ADPCM",
	0x0031: "GSM 6.10",
	0x0050: "MPEG audio",
	0x0055: "MP3",
	0x00ff: "AAC",
	0x1610: "AAC",
	0xf1ac: "FLAC",
}

// wavFormat is the validated content of a fmt chunk.
type wavFormat struct {
	channels   int
	rate       int
	blockAlign int
	width      int  // bytes per sample
	float      bool // IEEE float rather than integer PCM
}

// wavFile is a WAV file whose header has been read and checked but whose
// samples have not been converted yet.
type wavFile struct {
	format wavFormat
	data   []byte // whole frames of sample data
}

// frames returns the number of frames in the file.
func (w *wavFile) frames() int { return len(w.data) / w.format.blockAlign }

// seconds returns the playing time in seconds.
func (w *wavFile) seconds() float64 {
	return float64(w.frames()) / float64(w.format.rate)
}

// ParseWAV decodes a WAV file: integer PCM of 8 (unsigned) to 32 bits,
// IEEE float of 32 or 64 bits, plain or WAVE_FORMAT_EXTENSIBLE, in RIFF or
// RF64 containers, with any number of channels and any sample rate.
// Samples are scaled to [-1, 1]; float values outside that range are
// clipped and NaN becomes 0.
//
// A data chunk whose size field was never filled in, as streaming writers
// leave it (0 with an unset or header-only RIFF size, or 0x7FFFF000 and
// above, such as 0xFFFFFFFF), extends to the end of the input. A data chunk
// with any other size larger than the input is reported as truncated.
//
// Errors wrap ErrEmpty (no bytes, or no samples), ErrNotAudio (not a WAV
// file), ErrMalformed (broken header or truncated data) or ErrUnsupported
// (a compressed encoding such as ADPCM or µ-law).
func ParseWAV(data []byte) (*PCM, error) {
	w, err := readWAV(data)
	if err != nil {
		return nil, err
	}
	return w.pcm(), nil
}

// readWAV walks the chunks of a WAV file and validates its header without
// converting samples. It never allocates in proportion to declared sizes.
func readWAV(b []byte) (*wavFile, error) {
	if len(b) == 0 {
		return nil, ErrEmpty
	}
	magic := string(b[:min(4, len(b))])
	rf64 := strings.HasPrefix("RF64", magic) || strings.HasPrefix("BW64", magic)
	if !strings.HasPrefix("RIFF", magic) && !rf64 || len(b) >= 12 && string(b[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: not a WAV file", ErrNotAudio)
	}
	if len(b) < 12 {
		return nil, fmt.Errorf("%w: WAV header is truncated after %d bytes", ErrMalformed, len(b))
	}
	s := chunkScanner{b: b, riffSize: uint64(binary.LittleEndian.Uint32(b[4:8])), off: 12}
	if rf64 {
		if err := s.readDS64(); err != nil {
			return nil, err
		}
	}
	return s.scan()
}

// chunkScanner holds the state of a walk through the chunks of a WAV file.
type chunkScanner struct {
	b        []byte
	off      uint64 // start of the next chunk header
	riffSize uint64 // from the RIFF header or, for RF64, the ds64 chunk
	ds64Data uint64 // RF64 data size; used when the data chunk says 0xFFFFFFFF
	rf64     bool

	format *wavFormat
	audio  []byte
	found  bool // a data chunk was seen
}

// readDS64 reads the ds64 chunk that must open an RF64 file.
func (s *chunkScanner) readDS64() error {
	b := s.b
	if len(b) < 20 || string(b[12:16]) != "ds64" {
		return fmt.Errorf("%w: RF64 file lacks its ds64 chunk", ErrMalformed)
	}
	size := uint64(binary.LittleEndian.Uint32(b[16:20]))
	if size < 24 || uint64(len(b)) < 20+24 {
		return fmt.Errorf("%w: RF64 ds64 chunk is too short or truncated", ErrMalformed)
	}
	s.rf64 = true
	s.riffSize = binary.LittleEndian.Uint64(b[20:28])
	s.ds64Data = binary.LittleEndian.Uint64(b[28:36])
	s.off = 20 + size + size&1
	return nil
}

// scan visits chunks until it has both the fmt and the data chunk.
func (s *chunkScanner) scan() (*wavFile, error) {
	n := uint64(len(s.b))
	for s.format == nil || !s.found {
		if s.off+8 > n {
			break
		}
		id := string(s.b[s.off : s.off+4])
		size := uint64(binary.LittleEndian.Uint32(s.b[s.off+4 : s.off+8]))
		body := s.off + 8
		switch id {
		case "fmt ":
			if s.format != nil {
				break
			}
			if body+size > n {
				return nil, fmt.Errorf("%w: WAV fmt chunk is truncated", ErrMalformed)
			}
			f, err := parseFmt(s.b[body : body+size])
			if err != nil {
				return nil, err
			}
			s.format = f
		case "data":
			if s.found {
				break
			}
			end, err := s.dataEnd(body, size)
			if err != nil {
				return nil, err
			}
			s.audio = s.b[body:end]
			s.found = true
			size = end - body
		}
		s.off = body + size + size&1
	}
	switch {
	case s.format == nil:
		return nil, fmt.Errorf("%w: WAV file has no fmt chunk (header truncated?)", ErrMalformed)
	case !s.found:
		return nil, fmt.Errorf("%w: WAV file has no data chunk (header truncated?)", ErrMalformed)
	}
	w := &wavFile{format: *s.format}
	w.data = s.audio[:len(s.audio)/w.format.blockAlign*w.format.blockAlign]
	if len(w.data) == 0 {
		return nil, fmt.Errorf("%w: the WAV file holds no samples", ErrEmpty)
	}
	return w, nil
}

// dataEnd returns the end offset of the sample bytes of a data chunk whose
// body starts at body and whose size field says size.
func (s *chunkScanner) dataEnd(body, size uint64) (uint64, error) {
	n := uint64(len(s.b))
	present := n - body
	declared := size
	if s.rf64 && size == math.MaxUint32 {
		declared = s.ds64Data
	}
	if declared <= present && !(declared == 0 && s.unsizedEmpty(body)) {
		return body + declared, nil
	}
	if s.placeholder(declared, body) {
		return n, nil
	}
	return 0, fmt.Errorf("%w: WAV data chunk declares %d bytes but only %d are present "+
		"(file truncated?)", ErrMalformed, declared, present)
}

// unsizedEmpty reports whether a data chunk with size 0 starting at body is
// really the start of streamed audio: bytes follow it and the RIFF size
// either was not filled in either or ends the file at the data chunk.
func (s *chunkScanner) unsizedEmpty(body uint64) bool {
	return uint64(len(s.b)) > body && s.placeholder(0, body)
}

// placeholder reports whether a declared data size is a value that streaming
// writers leave in place of the real size, which they cannot know.
func (s *chunkScanner) placeholder(declared, body uint64) bool {
	riffUnset := s.riffSize == 0 || s.riffSize >= 0x7ffff000 || s.riffSize+8 <= body
	switch {
	case declared == 0:
		return riffUnset
	case s.rf64:
		return declared == math.MaxUint64
	}
	return declared >= 0x7ffff000
}

// parseFmt validates a fmt chunk body.
func parseFmt(b []byte) (*wavFormat, error) {
	if len(b) < 16 {
		return nil, fmt.Errorf("%w: WAV fmt chunk is %d bytes, shorter than 16",
			ErrMalformed, len(b))
	}
	tag := binary.LittleEndian.Uint16(b[0:2])
	f := &wavFormat{
		channels:   int(binary.LittleEndian.Uint16(b[2:4])),
		rate:       int(binary.LittleEndian.Uint32(b[4:8])),
		blockAlign: int(binary.LittleEndian.Uint16(b[12:14])),
	}
	bits := int(binary.LittleEndian.Uint16(b[14:16]))
	switch {
	case f.channels == 0:
		return nil, fmt.Errorf("%w: WAV header declares 0 channels", ErrMalformed)
	case f.channels > maxChannels:
		return nil, fmt.Errorf("%w: WAV header declares %d channels", ErrMalformed, f.channels)
	case f.rate < minWAVRate || f.rate > maxWAVRate:
		return nil, fmt.Errorf("%w: WAV header declares a sample rate of %d Hz "+
			"(%d to %d Hz accepted)", ErrMalformed, f.rate, minWAVRate, maxWAVRate)
	}
	if tag == tagExtensible {
		var err error
		if tag, err = extensibleTag(b, bits); err != nil {
			return nil, err
		}
	}
	switch tag {
	case tagPCM:
		if bits == 0 || bits > 32 {
			return nil, unsupportedWAV(fmt.Sprintf("%d-bit integer PCM", bits), tag)
		}
	case tagFloat:
		if bits != 32 && bits != 64 {
			return nil, unsupportedWAV(fmt.Sprintf("%d-bit float", bits), tag)
		}
		f.float = true
	default:
		name := wavCodecNames[tag]
		if name == "" {
			name = "an unknown"
		}
		return nil, unsupportedWAV(name, tag)
	}
	f.width = (bits + 7) / 8
	if f.blockAlign != f.channels*f.width {
		return nil, fmt.Errorf("%w: WAV block align is %d bytes, but %d channels of %d-bit "+
			"samples take %d", ErrMalformed, f.blockAlign, f.channels, bits, f.channels*f.width)
	}
	return f, nil
}

// extensibleTag returns the format tag held in the sub-format GUID of a
// WAVE_FORMAT_EXTENSIBLE fmt chunk.
func extensibleTag(b []byte, bits int) (uint16, error) {
	if len(b) < 40 || binary.LittleEndian.Uint16(b[16:18]) < 22 {
		return 0, fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE fmt chunk is too short", ErrMalformed)
	}
	valid := int(binary.LittleEndian.Uint16(b[18:20]))
	if valid > bits {
		return 0, fmt.Errorf("%w: WAV header declares %d valid bits in %d-bit samples",
			ErrMalformed, valid, bits)
	}
	guid := b[24:40]
	if !bytes.Equal(guid[2:], extensibleTail) {
		return 0, &unsupportedError{"WAV with an unknown WAVE_FORMAT_EXTENSIBLE sub-format"}
	}
	return binary.LittleEndian.Uint16(guid[0:2]), nil
}

// unsupportedError reports a recognised encoding that is not decoded
// natively. It matches ErrUnsupported.
type unsupportedError struct {
	what string // such as "WAV with µ-law encoding (format tag 0x0007)"
}

func (e *unsupportedError) Error() string { return ErrUnsupported.Error() + ": " + e.what }

func (e *unsupportedError) Unwrap() error { return ErrUnsupported }

// unsupportedWAV reports a valid WAV encoding that is not decoded natively.
func unsupportedWAV(what string, tag uint16) error {
	return &unsupportedError{fmt.Sprintf("WAV with %s encoding (format tag 0x%04x)", what, tag)}
}

// pcm converts the sample data to float32.
func (w *wavFile) pcm() *PCM {
	f := w.format
	out := make([]float32, len(w.data)/f.width)
	d := w.data
	switch {
	case f.float && f.width == 4:
		for i := range out {
			out[i] = clamp(math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:])))
		}
	case f.float:
		for i := range out {
			v := math.Float64frombits(binary.LittleEndian.Uint64(d[8*i:]))
			out[i] = clamp(float32(max(-2, min(2, v))))
		}
	case f.width == 1:
		for i := range out {
			out[i] = (float32(d[i]) - 128) / 128
		}
	case f.width == 2:
		for i := range out {
			out[i] = float32(int16(binary.LittleEndian.Uint16(d[2*i:]))) / (1 << 15)
		}
	case f.width == 3:
		for i := range out {
			u := uint32(d[3*i]) | uint32(d[3*i+1])<<8 | uint32(d[3*i+2])<<16
			out[i] = float32(int32(u<<8)>>8) / (1 << 23)
		}
	default:
		for i := range out {
			v := int32(binary.LittleEndian.Uint32(d[4*i:]))
			out[i] = float32(float64(v) / (1 << 31))
		}
	}
	return &PCM{SampleRate: f.rate, Channels: f.channels, Samples: out}
}
