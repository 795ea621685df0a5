package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func FuzzParseAllowList(f *testing.F) {
	for _, seed := range []string{
		"hooks.example.com", "*.example.com:443", "10.1.0.0/16:8443",
		"[fd00::/8]:8443", "::1", "127.1", "0x7f.1", "[::1]", "a\nb.example.com",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, lines string) {
		a, err := ParseAllowList(strings.Split(lines, "\n"))
		if err != nil {
			return
		}
		// A parsed list re-parses from its own rendering.
		if _, err := ParseAllowList(strings.Split(a.String(), ",")); err != nil &&
			len(a.entries) > 0 {
			t.Errorf("re-parsing %q: %v", a.String(), err)
		}
		for _, u := range []string{"http://hooks.example.com/", "https://127.0.0.1:8443/"} {
			if err := a.Check(u); err != nil && !errors.Is(err, ErrNotAllowed) {
				t.Errorf("Check(%q) = %v, does not wrap ErrNotAllowed", u, err)
			}
		}
	})
}

func FuzzCheck(f *testing.F) {
	for _, seed := range []string{
		"https://hooks.example.com/cb", "http://[::ffff:127.0.0.1]/",
		"http://user@hooks.example.com/", "http://127.1/", "javascript:x",
	} {
		f.Add(seed)
	}
	a := mustAllowList(f, "hooks.example.com", "*.example.org", "127.0.0.1/32", "fd00::/8")
	f.Fuzz(func(t *testing.T, raw string) {
		if err := a.Check(raw); err != nil && !errors.Is(err, ErrNotAllowed) {
			t.Errorf("Check(%q) = %v, does not wrap ErrNotAllowed", raw, err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	f.Add(Signer{Secret: testSecret}.Sign(testBody, testTime))
	f.Add("t=1,v1=00,v1=zz")
	f.Add("t=,,,=")
	f.Fuzz(func(t *testing.T, header string) {
		err := Verify(testSecret, header, testBody, testTime, time.Minute)
		if err != nil && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrStaleSignature) {
			t.Errorf("Verify(%q) = %v, an unclassified error", header, err)
		}
	})
}
