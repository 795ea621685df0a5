package audio

import "bytes"

// Format is an audio or video container recognised from its first bytes.
type Format int

// The formats Sniff recognises.
const (
	FormatUnknown Format = iota
	FormatWAV            // RIFF/WAVE, RF64 or BW64
	FormatMP3            // MPEG audio, with or without an ID3v2 tag
	FormatAAC            // raw AAC in ADTS frames
	FormatOgg            // Ogg (Vorbis, Opus, FLAC, Speex)
	FormatFLAC           // native FLAC
	FormatMP4            // ISO base media: MP4, M4A, MOV, 3GP
	FormatWebM           // Matroska or WebM
	FormatAIFF           // AIFF or AIFF-C
	FormatCAF            // Apple Core Audio Format
	FormatAU             // Sun/NeXT .au
	FormatAMR            // AMR narrow or wide band
	FormatASF            // ASF (WMA, WMV)
	FormatAVI            // RIFF/AVI
)

var formatNames = [...]string{
	FormatUnknown: "unknown",
	FormatWAV:     "WAV",
	FormatMP3:     "MP3",
	FormatAAC:     "AAC",
	FormatOgg:     "Ogg",
	FormatFLAC:    "FLAC",
	FormatMP4:     "MP4",
	FormatWebM:    "WebM",
	FormatAIFF:    "AIFF",
	FormatCAF:     "CAF",
	FormatAU:      "AU",
	FormatAMR:     "AMR",
	FormatASF:     "ASF",
	FormatAVI:     "AVI",
}

// String returns the usual short name of the format, such as "WAV".
func (f Format) String() string {
	if f < 0 || int(f) >= len(formatNames) {
		return "unknown"
	}
	return formatNames[f]
}

// asfGUID starts every ASF file (WMA, WMV).
var asfGUID = []byte{
	0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11,
	0xa6, 0xd9, 0x00, 0xaa, 0x00, 0x62, 0xce, 0x6c,
}

// Sniff recognises the container format from the first bytes of a file.
// A few hundred bytes are enough; the whole file may be passed. It returns
// ErrEmpty for no bytes and ErrNotAudio when the bytes match no known
// format. Sniff looks at signatures only: a recognised file may still fail
// to decode.
func Sniff(head []byte) (Format, error) {
	if len(head) == 0 {
		return FormatUnknown, ErrEmpty
	}
	if f := sniffMagic(head); f != FormatUnknown {
		return f, nil
	}
	if bytes.HasPrefix(head, []byte("ID3")) {
		return sniffID3(head), nil
	}
	if f := sniffFrames(head); f != FormatUnknown {
		return f, nil
	}
	return FormatUnknown, ErrNotAudio
}

// sniffMagic matches fixed signatures.
func sniffMagic(b []byte) Format {
	has := func(off int, sig string) bool {
		return len(b) >= off+len(sig) && string(b[off:off+len(sig)]) == sig
	}
	switch {
	case has(0, "RIFF") && (len(b) < 12 || has(8, "WAVE")):
		// A head too short to show the form type is taken for WAV so
		// that a truncated WAV is reported as malformed, not as noise.
		return FormatWAV
	case (has(0, "RF64") || has(0, "BW64")) && has(8, "WAVE"):
		return FormatWAV
	case has(0, "RIFF") && has(8, "AVI "):
		return FormatAVI
	case has(0, "FORM") && (has(8, "AIFF") || has(8, "AIFC")):
		return FormatAIFF
	case has(0, "OggS"):
		return FormatOgg
	case has(0, "fLaC"):
		return FormatFLAC
	case has(4, "ftyp"):
		return FormatMP4
	case has(0, "\x1a\x45\xdf\xa3"):
		return FormatWebM
	case has(0, "caff"):
		return FormatCAF
	case has(0, ".snd"):
		return FormatAU
	case has(0, "#!AMR"):
		return FormatAMR
	case bytes.HasPrefix(b, asfGUID):
		return FormatASF
	}
	return FormatUnknown
}

// sniffID3 looks past an ID3v2 tag for the audio it precedes; the tag is
// most often in front of MP3, sometimes of AAC or FLAC.
func sniffID3(b []byte) Format {
	if len(b) < 10 {
		return FormatMP3
	}
	// The tag size is a 28-bit "syncsafe" integer: 7 bits per byte.
	size := int(b[6]&0x7f)<<21 | int(b[7]&0x7f)<<14 | int(b[8]&0x7f)<<7 | int(b[9]&0x7f)
	end := 10 + size
	if b[5]&0x10 != 0 { // footer present
		end += 10
	}
	if end+4 > len(b) {
		return FormatMP3
	}
	rest := b[end:]
	if f := sniffMagic(rest); f == FormatFLAC {
		return f
	}
	if f := sniffFrames(rest); f != FormatUnknown {
		return f
	}
	return FormatMP3
}

// sniffFrames recognises a stream of MPEG audio or ADTS frames by its first
// frame header and, when the head is long enough, the header that follows.
func sniffFrames(b []byte) Format {
	// FF FE is also the byte order mark of UTF-16 text; as MPEG audio it
	// would be layer I, which is all but extinct.
	if len(b) < 4 || b[0] != 0xff || b[1]&0xe0 != 0xe0 || b[1] == 0xfe {
		return FormatUnknown
	}
	if b[1]&0xf6 == 0xf0 { // ADTS: 12-bit sync, layer 00
		if len(b) < 6 || (b[2]>>2)&0x0f >= 13 {
			return FormatUnknown
		}
		// The 13-bit frame length spans bytes 3 to 5.
		n := int(b[3]&3)<<11 | int(b[4])<<3 | int(b[5]>>5)
		if n < 7 || !nextSync(b, n, 0xf6, 0xf0) {
			return FormatUnknown
		}
		return FormatAAC
	}
	n, ok := mpegFrameLen(b)
	if !ok || !nextSync(b, n, 0xe0, 0xe0) {
		return FormatUnknown
	}
	return FormatMP3
}

// nextSync reports whether the frame after one of length n starts with a
// sync word, or lies beyond the head so that it cannot be checked.
func nextSync(b []byte, n int, mask, want byte) bool {
	if n <= 0 || len(b) < n+2 {
		return true
	}
	return b[n] == 0xff && b[n+1]&mask == want
}

// MPEG audio bitrates in kbit/s by [table][index], where table is
// 0: MPEG-1 layer I, 1: MPEG-1 layer II, 2: MPEG-1 layer III,
// 3: MPEG-2/2.5 layer I, 4: MPEG-2/2.5 layers II and III.
var mpegBitrates = [5][15]int{
	{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
	{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
	{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
	{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
	{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
}

// mpegRates holds sample rates by [version][index] for the version bits
// 00 (MPEG-2.5), 10 (MPEG-2) and 11 (MPEG-1); 01 is reserved.
var mpegRates = [4][3]int{
	{11025, 12000, 8000},
	{},
	{22050, 24000, 16000},
	{44100, 48000, 32000},
}

// mpegFrameLen validates an MPEG audio frame header and returns the frame's
// length in bytes, or 0 for a free-format frame whose length is unknown.
func mpegFrameLen(b []byte) (int, bool) {
	version := (b[1] >> 3) & 3
	layer := 4 - int((b[1]>>1)&3) // 1, 2 or 3; 4 means reserved
	brIndex := int(b[2] >> 4)
	srIndex := int((b[2] >> 2) & 3)
	if version == 1 || layer == 4 || brIndex == 15 || srIndex == 3 {
		return 0, false
	}
	if b[3]&3 == 2 { // reserved emphasis value
		return 0, false
	}
	table := layer - 1
	if version != 3 {
		table = 4
		if layer == 1 {
			table = 3
		}
	}
	bitrate := mpegBitrates[table][brIndex] * 1000
	rate := mpegRates[version][srIndex]
	pad := int(b[2]>>1) & 1
	switch {
	case bitrate == 0:
		return 0, true
	case layer == 1:
		return (12*bitrate/rate + pad) * 4, true
	case layer == 3 && version != 3:
		return 72*bitrate/rate + pad, true
	}
	return 144*bitrate/rate + pad, true
}
