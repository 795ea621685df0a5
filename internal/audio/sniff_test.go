package audio

import (
	"errors"
	"testing"
)

func TestSniff(t *testing.T) {
	adts := []byte{0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc} // 16-byte frames
	adts2 := append(append(append([]byte{}, adts...), make([]byte, 9)...), adts...)
	id3 := []byte("ID3\x04\x00\x00\x00\x00\x00\x02xx")
	tests := []struct {
		name string
		head []byte
		want Format
		err  error
	}{
		{"empty", nil, FormatUnknown, ErrEmpty},
		{"WAV", simpleWAV(tagPCM, 1, 16000, 16, le16(1)), FormatWAV, nil},
		{"WAV cut short", []byte("RIFF\x24\x00"), FormatWAV, nil},
		{"RF64", []byte("RF64\xff\xff\xff\xffWAVEds64"), FormatWAV, nil},
		{"BW64", []byte("BW64\xff\xff\xff\xffWAVEds64"), FormatWAV, nil},
		{"AVI", []byte("RIFF\x00\x00\x00\x00AVI LIST"), FormatAVI, nil},
		{"WebP", []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), FormatUnknown, ErrNotAudio},
		{"MP3 frames", mp3Frames(2), FormatMP3, nil},
		{"MP3 first frame only", mp3Frames(1)[:100], FormatMP3, nil},
		{"MP3 with ID3", append(append([]byte{}, id3...), mp3Frames(2)...), FormatMP3, nil},
		{"ID3 alone", []byte("ID3\x03\x00"), FormatMP3, nil},
		{"ID3 then FLAC", append(append([]byte{}, id3...), "fLaC\x00\x00"...), FormatFLAC, nil},
		{"ADTS AAC", adts2, FormatAAC, nil},
		{"Ogg", []byte("OggS\x00\x02\x00\x00"), FormatOgg, nil},
		{"FLAC", []byte("fLaC\x00\x00\x00\x22"), FormatFLAC, nil},
		{"M4A", []byte("\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00"), FormatMP4, nil},
		{"MP4", []byte("\x00\x00\x00\x18ftypisom"), FormatMP4, nil},
		{"WebM", []byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81"), FormatWebM, nil},
		{"AIFF", []byte("FORM\x00\x00\x10\x00AIFFCOMM"), FormatAIFF, nil},
		{"AIFF-C", []byte("FORM\x00\x00\x10\x00AIFCFVER"), FormatAIFF, nil},
		{"CAF", []byte("caff\x00\x01\x00\x00"), FormatCAF, nil},
		{"AU", []byte(".snd\x00\x00\x00\x18"), FormatAU, nil},
		{"AMR", []byte("#!AMR\n"), FormatAMR, nil},
		{"WMA", append(append([]byte{}, asfGUID...), 0, 0), FormatASF, nil},
		{"text", []byte("Hello, world"), FormatUnknown, ErrNotAudio},
		{"JSON", []byte(`{"file": "a.wav"}`), FormatUnknown, ErrNotAudio},
		{"PNG", []byte("\x89PNG\r\n\x1a\n"), FormatUnknown, ErrNotAudio},
		{"JPEG", []byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10}, FormatUnknown, ErrNotAudio},
		{"UTF-16 text", []byte("\xff\xfeh\x00e\x00l\x00l\x00o\x00"), FormatUnknown, ErrNotAudio},
		{"MPEG sync, bad bitrate", []byte{0xff, 0xfb, 0xf0, 0x00}, FormatUnknown, ErrNotAudio},
		{"MPEG sync, no second frame", append([]byte{0xff, 0xfb, 0x90, 0x64},
			make([]byte, 500)...), FormatUnknown, ErrNotAudio},
		{"one byte", []byte{0xff}, FormatUnknown, ErrNotAudio},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Sniff(tt.head)
			if f != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("Sniff = %v, %v; want %v, %v", f, err, tt.want, tt.err)
			}
		})
	}
}

func TestFormatString(t *testing.T) {
	for f, want := range map[Format]string{
		FormatWAV: "WAV", FormatMP3: "MP3", FormatWebM: "WebM", FormatUnknown: "unknown",
		Format(-1): "unknown", Format(1000): "unknown",
	} {
		if got := f.String(); got != want {
			t.Errorf("Format(%d).String() = %q, want %q", int(f), got, want)
		}
	}
}
