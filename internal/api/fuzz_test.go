package api

import (
	"bytes"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseOptions feeds arbitrary query strings to the option parser: it
// must never panic, and whatever it accepts must be within bounds.
func FuzzParseOptions(f *testing.F) {
	for _, seed := range []string{
		"", "language=en&temperature=0.2&response_format=srt",
		"timestamp_granularities[]=word&response_format=verbose_json",
		"temperature=NaN", "temperature=-0", "beam_size=16&best_of=1&max_segment_length=0",
		"vad=false&vad_threshold=1", "translate=true&language=de", "prompt=%00%ff",
		"no_speech_threshold=1e-300", "language=AUTO",
	} {
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, query string, translation bool) {
		fields, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		opts, format, aerr := parseOptions(fields, translation)
		if aerr != nil {
			if aerr.Status != 400 || aerr.Param == nil || aerr.Message == "" {
				t.Fatalf("error without status 400 and param: %+v", aerr)
			}
			return
		}
		if format.ContentType() == "" {
			t.Fatalf("accepted format %q has no content type", format)
		}
		if !(opts.Temperature >= 0 && opts.Temperature <= 1) ||
			opts.VADThreshold < 0 || opts.VADThreshold > 1 ||
			opts.BeamSize < 0 || opts.BeamSize > 16 || opts.BestOf < 0 || opts.BestOf > 16 ||
			opts.MaxSegmentLength < 0 || opts.MaxSegmentLength > 1000 ||
			len(opts.Prompt) > maxPromptBytes || translation && !opts.Translate {
			t.Fatalf("accepted out-of-range options %+v", opts)
		}
	})
}

// FuzzReadMultipart feeds arbitrary bodies to the multipart reader: it
// must never panic, must answer every failure with a client error, and
// must bound what it keeps.
func FuzzReadMultipart(f *testing.F) {
	var good bytes.Buffer
	mw := multipart.NewWriter(&good)
	mw.SetBoundary("b0undary")
	mw.WriteField("language", "en")
	fw, _ := mw.CreateFormFile("file", "a.wav")
	fw.Write(wav(10))
	mw.WriteField("response_format", "srt")
	mw.Close()
	f.Add(good.Bytes())
	f.Add(good.Bytes()[:good.Len()/2])
	f.Add([]byte("--b0undary\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx"))
	f.Add([]byte("--b0undary--\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		up := &upload{fields: url.Values{}}
		aerr := readMultipart(up, bytes.NewReader(body), "b0undary", 4096, int64(len(body)))
		if aerr != nil {
			if aerr.Status != 400 && aerr.Status != 413 {
				t.Fatalf("status %d for a bad body", aerr.Status)
			}
			return
		}
		if len(up.spec.Audio) > 4096 || strings.ContainsAny(up.spec.Filename, "/\\\x00") {
			t.Fatalf("kept %d bytes, file name %q", len(up.spec.Audio), up.spec.Filename)
		}
		for name, values := range up.fields {
			for _, v := range values {
				if len(v) > maxFieldBytes {
					t.Fatalf("field %s of %d bytes", name, len(v))
				}
			}
		}
	})
}
