package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of a callback request.
const (
	HeaderSignature = "Asr-Signature"
	HeaderEvent     = "Asr-Event"
)

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock when Verify gets no tolerance.
const DefaultTolerance = 5 * time.Minute

// maxSignatureHeader bounds the header Verify parses.
const maxSignatureHeader = 4096

// Errors of Verify.
var (
	// ErrBadSignature means the header is malformed or no signature in it
	// matches the body under the secret.
	ErrBadSignature = errors.New("webhook: bad signature")
	// ErrStaleSignature means the signature is valid but its timestamp is
	// further from now than the tolerance.
	ErrStaleSignature = errors.New("webhook: signature timestamp outside tolerance")
)

// Signer signs callback bodies with a shared secret.
type Signer struct {
	Secret []byte
}

// Sign returns the Asr-Signature header value for body sent at ts:
//
//	t=<unix seconds>,v1=<hex HMAC-SHA256 of "<unix seconds>.<body>">
//
// The timestamp is inside the MAC, so a receiver that checks it with
// Verify rejects replays older than its tolerance. ts must not be before
// 1970. Sign does not refuse an empty secret; Sender does.
func (s Signer) Sign(body []byte, ts time.Time) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	return "t=" + t + ",v1=" + hex.EncodeToString(signature(s.Secret, t, body))
}

func signature(secret []byte, t string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks an Asr-Signature header against body and secret, as a
// receiver does. The header must have exactly one t field and at least one
// v1 field; several v1 fields are allowed (a sender rotating secrets) and
// one match is enough; fields with other keys are ignored. Signatures are
// compared in constant time.
//
// Verify returns nil for a matching, fresh signature; an error wrapping
// ErrBadSignature when the header is malformed, the secret is empty or no
// signature matches; and an error wrapping ErrStaleSignature when the
// signature matches but its timestamp differs from now by more than
// tolerance (DefaultTolerance when tolerance is not positive), in either
// direction.
func Verify(secret []byte, header string, body []byte, now time.Time,
	tolerance time.Duration) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: empty secret", ErrBadSignature)
	}
	t, sigs, err := parseSignatureHeader(header)
	if err != nil {
		return err
	}
	want := signature(secret, t, body)
	match := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			match = true
		}
	}
	if !match {
		return fmt.Errorf("%w: no v1 signature matches", ErrBadSignature)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	unix, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp: %w", ErrBadSignature, err)
	}
	age := now.Sub(time.Unix(unix, 0))
	if age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: signed %s ago, tolerance %s", ErrStaleSignature,
			age.Round(time.Second), tolerance)
	}
	return nil
}

// parseSignatureHeader returns the t field as written and the decoded v1
// signatures of the right length.
func parseSignatureHeader(header string) (t string, sigs [][]byte, err error) {
	if len(header) > maxSignatureHeader {
		return "", nil, fmt.Errorf("%w: header longer than %d bytes",
			ErrBadSignature, maxSignatureHeader)
	}
	seenT := false
	for field := range strings.SplitSeq(header, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok {
			return "", nil, fmt.Errorf("%w: field %q has no '='", ErrBadSignature, field)
		}
		switch key {
		case "t":
			if seenT {
				return "", nil, fmt.Errorf("%w: more than one t field", ErrBadSignature)
			}
			if value == "" || len(value) > 19 || strings.Trim(value, "0123456789") != "" {
				return "", nil, fmt.Errorf("%w: bad timestamp %q", ErrBadSignature, value)
			}
			seenT, t = true, value
		case "v1":
			sig, err := hex.DecodeString(value)
			if err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	switch {
	case !seenT:
		return "", nil, fmt.Errorf("%w: no t field", ErrBadSignature)
	case len(sigs) == 0:
		return "", nil, fmt.Errorf("%w: no well-formed v1 field", ErrBadSignature)
	}
	return t, sigs, nil
}
