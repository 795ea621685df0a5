package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	testSecret = []byte("whsec-test")
	testBody   = []byte(`{"job_id":"j1"}`)
	testTime   = time.Unix(1700000000, 0)
)

// The expected value was computed outside Go, with another HMAC library.
func TestSignKnownValue(t *testing.T) {
	got := Signer{Secret: testSecret}.Sign(testBody, testTime)
	want := "t=1700000000," +
		"v1=9898495502c52f754a36d3715740e177c489b224f31eccea4f6689913d43c26e"
	if got != want {
		t.Errorf("Sign = %q\nwant   %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	good := Signer{Secret: testSecret}.Sign(testBody, testTime)
	other := Signer{Secret: []byte("old-secret")}.Sign(testBody, testTime)
	_, goodSig, _ := strings.Cut(good, ",")
	tests := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", testSecret, good, testBody, testTime, nil},
		{"valid within tolerance", testSecret, good, testBody, testTime.Add(4 * time.Minute), nil},
		{"clock behind within tolerance", testSecret, good, testBody,
			testTime.Add(-4 * time.Minute), nil},
		{"rotated secrets", testSecret, other + "," + goodSig, testBody, testTime, nil},
		{"unknown field ignored", testSecret, good + ",v0=zz", testBody, testTime, nil},
		{"spaces", testSecret, strings.ReplaceAll(good, ",", ", "), testBody, testTime, nil},
		{"tampered body", testSecret, good, []byte(`{"job_id":"j2"}`), testTime,
			ErrBadSignature},
		{"wrong secret", []byte("guess"), good, testBody, testTime, ErrBadSignature},
		{"empty secret", nil, good, testBody, testTime, ErrBadSignature},
		{"stale", testSecret, good, testBody, testTime.Add(6 * time.Minute),
			ErrStaleSignature},
		{"from the future", testSecret, good, testBody, testTime.Add(-6 * time.Minute),
			ErrStaleSignature},
		{"tampered timestamp", testSecret, "t=1700000300," + goodSig, testBody, testTime,
			ErrBadSignature},
		{"empty header", testSecret, "", testBody, testTime, ErrBadSignature},
		{"no timestamp", testSecret, goodSig, testBody, testTime, ErrBadSignature},
		{"no signature", testSecret, "t=1700000000", testBody, testTime, ErrBadSignature},
		{"two timestamps", testSecret, "t=1700000000," + good, testBody, testTime,
			ErrBadSignature},
		{"signed timestamp", testSecret, "t=+1700000000," + goodSig, testBody, testTime,
			ErrBadSignature},
		{"huge timestamp", testSecret, "t=9999999999999999999," + goodSig, testBody,
			testTime, ErrBadSignature},
		{"short signature", testSecret, "t=1700000000,v1=9898", testBody, testTime,
			ErrBadSignature},
		{"not hex", testSecret, "t=1700000000,v1=" + strings.Repeat("zz", 32), testBody,
			testTime, ErrBadSignature},
		{"field without value", testSecret, good + ",junk", testBody, testTime,
			ErrBadSignature},
		{"oversized", testSecret, good + strings.Repeat(",x=1", 2000), testBody, testTime,
			ErrBadSignature},
	}
	for _, tt := range tests {
		err := Verify(tt.secret, tt.header, tt.body, tt.now, 5*time.Minute)
		if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
			t.Errorf("%s: Verify = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestVerifyDefaultTolerance(t *testing.T) {
	header := Signer{Secret: testSecret}.Sign(testBody, testTime)
	now := testTime.Add(DefaultTolerance - time.Second)
	if err := Verify(testSecret, header, testBody, now, 0); err != nil {
		t.Errorf("inside default tolerance: %v", err)
	}
	now = testTime.Add(DefaultTolerance + time.Second)
	if err := Verify(testSecret, header, testBody, now, 0); !errors.Is(err, ErrStaleSignature) {
		t.Errorf("outside default tolerance: %v, want ErrStaleSignature", err)
	}
}
