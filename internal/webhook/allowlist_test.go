package webhook

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAllowListValid(t *testing.T) {
	valid := []string{
		"hooks.example.com",
		"HOOKS.Example.COM.",
		"*.example.com",
		"hooks.example.com:8443",
		"*.example.com:443",
		"internal_svc.lan",
		"127.0.0.1",
		"127.0.0.1/32",
		"10.1.0.0/16",
		"10.1.0.1/16",
		"10.1.0.0/16:8443",
		"::1",
		"fd00::/8",
		"[fd00::/8]:8443",
		"[2001:db8::1]:443",
		"::ffff:10.0.0.0/104",
		"  padded.example.com  ",
	}
	for _, entry := range valid {
		if _, err := ParseAllowList([]string{entry}); err != nil {
			t.Errorf("ParseAllowList(%q): %v", entry, err)
		}
	}
}

func TestParseAllowListGarbage(t *testing.T) {
	garbage := []string{
		"",
		"   ",
		"*",
		"*.",
		"**.example.com",
		"a*.example.com",
		"*.*.example.com",
		"http://example.com",
		"example.com/path",
		"user@example.com",
		"exa mple.com",
		"-bad.example.com",
		"bad-.example.com",
		"hööks.example.com",
		"example.com:0",
		"example.com:65536",
		"example.com:http",
		"example.com:+80",
		"example.com:",
		"10.0.0.0/33",
		"10.0.0.0/",
		"300.1.1.1",
		"127.1",
		"0x7f000001",
		"example.123",
		"fe80::1%eth0",
		"fe80::/10%eth0",
		"[example.com]:80",
		"[::1",
		"[::1]",
		"[::1]:",
		strings.Repeat("a", 64) + ".example.com",
	}
	for _, entry := range garbage {
		_, err := ParseAllowList([]string{"ok.example.com", entry})
		if err == nil {
			t.Errorf("ParseAllowList(%q) = nil error, want one", entry)
			continue
		}
		if !strings.HasPrefix(err.Error(), "webhook: ") {
			t.Errorf("ParseAllowList(%q) error %q lacks the package prefix", entry, err)
		}
	}
}

func TestCheck(t *testing.T) {
	a := mustAllowList(t,
		"hooks.example.com",
		"*.svc.example.com",
		"api.example.org:8443",
		"127.0.0.1/32",
		"10.1.0.0/16:9000",
		"2001:db8::/32",
		"[::1]:8080",
	)
	tests := []struct {
		url  string
		want string // "" when allowed, else a part of the error
	}{
		{"https://hooks.example.com/cb", ""},
		{"http://HOOKS.example.com./cb?x=1", ""},
		{"https://a.svc.example.com/x", ""},
		{"https://a.b.svc.example.com/x", ""},
		{"https://api.example.org:8443/x", ""},
		{"http://api.example.org:8443/x", ""},
		{"http://127.0.0.1:1234/", ""},
		{"http://[::ffff:127.0.0.1]/", ""},
		{"http://10.1.2.3:9000/", ""},
		{"https://[2001:db8::5]/", ""},
		{"http://[::1]:8080/", ""},

		{"https://svc.example.com/", "not in the allow-list"},
		{"https://evil.example/?hooks.example.com", "not in the allow-list"},
		{"https://hooks.example.com.evil.example/", "not in the allow-list"},
		{"https://xhooks.example.com/", "not in the allow-list"},
		{"https://api.example.org/", "port 443"},
		{"http://10.1.2.3:9001/", "not in the allow-list"},
		{"http://10.2.0.1:9000/", "not in the allow-list"},
		{"http://127.0.0.2/", "not in the allow-list"},
		{"http://[::1]/", "not in the allow-list"},
		{"http://[2001:db9::1]/", "not in the allow-list"},

		{"ftp://hooks.example.com/", "scheme"},
		{"javascript:alert(1)", "scheme"},
		{"/relative/path", "scheme"},
		{"hooks.example.com/cb", "scheme"},
		{"http:hooks.example.com", "no host"},
		{"https:///path", "no host"},
		{"https://:443/path", "no host"},
		{"https://user:pw@hooks.example.com/", "user information"},
		{"https://user@hooks.example.com/", "user information"},
		{"http://127.1/", "bad IP address"},
		{"http://0x7f000001/", "bad IP address"},
		{"http://[fe80::1%25eth0]/", "bad IP address"},
		{"http://hooks.example.com:0/", "bad port"},
		{"http://hooks.example.com:99999/", "bad port"},
		{"http://hooks.example.com:8x/", "invalid port"},
		{"http://ex ample.com/", "invalid character"},
		{"https://hööks.example.com/", "bad host name"},
	}
	for _, tt := range tests {
		err := a.Check(tt.url)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Check(%q) = %v, want nil", tt.url, err)
		case tt.want == "":
		case err == nil:
			t.Errorf("Check(%q) = nil, want error with %q", tt.url, tt.want)
		case !errors.Is(err, ErrNotAllowed):
			t.Errorf("Check(%q) = %v, does not wrap ErrNotAllowed", tt.url, err)
		case !strings.Contains(err.Error(), tt.want):
			t.Errorf("Check(%q) = %v, want error with %q", tt.url, err, tt.want)
		}
	}
}

func TestCheckEmptyList(t *testing.T) {
	lists := map[string]*AllowList{
		"parsed empty": mustAllowList(t),
		"nil":          nil,
		"zero":         {},
	}
	for name, a := range lists {
		err := a.Check("https://hooks.example.com/")
		if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "empty") {
			t.Errorf("%s list: Check = %v, want empty allow-list error", name, err)
		}
	}
}

// A broad prefix allows public addresses but does not open blocked space;
// a prefix inside blocked space does.
func TestCheckBlockedLiterals(t *testing.T) {
	broad := mustAllowList(t, "0.0.0.0/0", "::/0")
	narrow := mustAllowList(t, "169.254.169.254/32", "10.0.0.0/8", "fd00::/8")
	tests := []struct {
		url               string
		broadOK, narrowOK bool
	}{
		{"http://203.0.113.9/", true, false},
		{"http://[2606:4700::1]/", true, false},
		{"http://127.0.0.1/", false, false},
		{"http://0.0.0.0/", false, false},
		{"http://[::]/", false, false},
		{"http://169.254.169.254/latest/meta-data/", false, true},
		{"http://[::ffff:169.254.169.254]/", false, true},
		{"http://10.20.30.40/", false, true},
		{"http://[fd00:ec2::254]/", false, true},
		{"http://100.100.100.200/", false, false},
	}
	for _, tt := range tests {
		if err := broad.Check(tt.url); (err == nil) != tt.broadOK {
			t.Errorf("broad list: Check(%q) = %v, want allowed %v", tt.url, err, tt.broadOK)
		}
		if err := narrow.Check(tt.url); (err == nil) != tt.narrowOK {
			t.Errorf("narrow list: Check(%q) = %v, want allowed %v", tt.url, err, tt.narrowOK)
		}
	}
}

func TestAllowListString(t *testing.T) {
	a := mustAllowList(t, " hooks.example.com ", "10.0.0.0/8")
	if got, want := a.String(), "hooks.example.com,10.0.0.0/8"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func mustAllowList(t testing.TB, entries ...string) *AllowList {
	t.Helper()
	a, err := ParseAllowList(entries)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
