package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/asr-server/asr-server/internal/audio"
	"github.com/asr-server/asr-server/internal/queue"
)

// Bounds of a multipart form besides its file: the whole overhead
// (boundaries, headers, fields), and one field's value.
const (
	multipartSlack = 1 << 20
	maxFieldBytes  = 64 << 10
)

// upload is an uploaded audio file with the fields that came with it: the
// form's other fields, or the query string for a raw body.
type upload struct {
	spec   queue.Spec
	fields url.Values
}

// readUpload reads and checks the uploaded audio, of at most max bytes.
func (s *Server) readUpload(w http.ResponseWriter, r *http.Request, max int64) (*upload,
	*apiError) {
	mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	multipartForm := mediaType == "multipart/form-data"
	limit := max
	if multipartForm {
		limit += multipartSlack
	}
	// A declared length over the limit is refused before any of the body
	// is read (and before a client waiting on "Expect: 100-continue" sends).
	if r.ContentLength > limit {
		return nil, tooLarge(max)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	up := &upload{fields: url.Values{}}
	var aerr *apiError
	if multipartForm {
		aerr = readMultipart(up, r.Body, params["boundary"], max, r.ContentLength)
	} else {
		up.fields = r.URL.Query()
		up.spec.ContentType = mediaType
		up.spec.Audio, aerr = readLimited(r.Body, max, r.ContentLength)
	}
	if aerr != nil {
		return nil, aerr
	}
	if len(up.spec.Audio) == 0 {
		return nil, badRequest("empty_file", "file", "the uploaded audio file is empty")
	}
	if _, err := audio.Sniff(up.spec.Audio); err != nil {
		return nil, &apiError{Status: http.StatusUnsupportedMediaType,
			Type: typeInvalidRequest, Code: "unsupported_format", Param: optional("file"),
			Message: "the upload is not an audio file in a known format " +
				"(wav, mp3, ogg, opus, flac, m4a, webm, ...)"}
	}
	return up, nil
}

// readMultipart reads the "file" part of a multipart form into up, and the
// other fields into up.fields; hint is the body's declared length, or -1.
func readMultipart(up *upload, body io.Reader, boundary string, max, hint int64) *apiError {
	if boundary == "" {
		return badRequest("invalid_multipart", "", "multipart body without a boundary")
	}
	mr := multipart.NewReader(body, boundary)
	found := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return bodyError(err, max)
		}
		name := part.FormName()
		switch {
		case name == "file" && !found:
			found = true
			up.spec.Filename = cleanFilename(part.FileName())
			up.spec.ContentType = part.Header.Get("Content-Type")
			var aerr *apiError
			if up.spec.Audio, aerr = readLimited(part, max, hint); aerr != nil {
				return aerr
			}
		case name != "" && name != "file" && part.FileName() == "":
			value, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
			if err != nil {
				return bodyError(err, max)
			}
			if len(value) > maxFieldBytes {
				return badRequest("field_too_large", name,
					fmt.Sprintf("the form field %q is longer than %d bytes", name,
						maxFieldBytes))
			}
			up.fields.Add(name, string(value))
		}
		part.Close()
	}
	if !found {
		return badRequest("missing_file", "file",
			`the multipart form has no "file" field with the audio`)
	}
	return nil
}

// readLimited reads r whole, failing with 413 past max bytes. A positive
// hint, the expected size, saves growing the buffer step by step.
func readLimited(r io.Reader, max, hint int64) ([]byte, *apiError) {
	var buf bytes.Buffer
	if hint > 0 {
		buf.Grow(int(min(hint, max+1)))
	}
	n, err := io.Copy(&buf, io.LimitReader(r, max+1))
	if err != nil {
		return nil, bodyError(err, max)
	}
	if n > max {
		return nil, tooLarge(max)
	}
	return buf.Bytes(), nil
}

func bodyError(err error, max int64) *apiError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(max)
	}
	return badRequest("invalid_body", "", "reading the request body failed: "+err.Error())
}

func tooLarge(max int64) *apiError {
	return &apiError{Status: http.StatusRequestEntityTooLarge, Type: typeInvalidRequest,
		Code: "file_too_large", Param: optional("file"),
		Message: fmt.Sprintf("the audio file exceeds the limit of %d bytes", max)}
}

// maxFilenameBytes bounds the stored name of an uploaded file.
const maxFilenameBytes = 255

// cleanFilename keeps the last element of a client's file name (clients
// may send a whole path, with either kind of slash), without control
// characters and at most maxFilenameBytes long.
func cleanFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	for len(name) > maxFilenameBytes {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "." || name == ".." {
		return ""
	}
	return name
}
