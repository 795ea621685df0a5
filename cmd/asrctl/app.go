package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/asr-server/asr-server/internal/client"
	"github.com/asr-server/asr-server/internal/config"
)

// TokenEnv names the environment variable that holds the API token.
const TokenEnv = "ASR_TOKEN"

// app is one invocation of asrctl: its streams, environment and the
// global flags, which every command accepts before or after its name.
type app struct {
	stdout, stderr io.Writer
	environ        []string

	apiURL     string
	token      string
	jsonOut    bool
	configPath string
	configSet  bool

	cfg    *config.Config
	loaded bool
}

func newApp(stdout, stderr io.Writer, environ []string) *app {
	return &app{stdout: stdout, stderr: stderr, environ: environ,
		configPath: config.DefaultPath}
}

// flagSet returns a flag set with the global flags. Its errors are
// reported by the caller.
func (a *app) flagSet(name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.StringVar(&a.apiURL, "api", a.apiURL,
		"asr-api `URL` (default: http:// and api.listen of the config)")
	fs.StringVar(&a.token, "token", a.token, "API `token` (default: $"+TokenEnv+
		", else the first of api.tokens in the config)")
	fs.BoolVar(&a.jsonOut, "json", a.jsonOut, "print JSON for scripts")
	fs.Func("config", "config `file` (default "+config.DefaultPath+")", func(v string) error {
		a.configPath, a.configSet = v, true
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "usage: asrctl %s %s\n\nflags:\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args with fs, allowing flags after positional arguments
// ("asrctl transcribe a.wav --format srt"); "--" ends the flags.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// config returns the configuration: the file (absent is fine unless
// --config named it) with the environment's overrides. An unreadable
// default file is reported and skipped, so that an operator without
// access to it can still pass --api and --token.
func (a *app) config() (*config.Config, error) {
	if a.loaded {
		return a.cfg, nil
	}
	cfg, err := config.Load(a.configPath, !a.configSet, a.environ)
	if err != nil && !a.configSet && errors.Is(err, fs.ErrPermission) {
		fmt.Fprintf(a.stderr, "asrctl: %v; using defaults\n", err)
		cfg, err = config.Load("", true, a.environ)
	}
	if err != nil {
		return nil, err
	}
	a.cfg, a.loaded = &cfg, true
	return a.cfg, nil
}

// env returns the value of an environment variable of the invocation.
func (a *app) env(name string) string {
	for _, kv := range a.environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// client returns an API client for the flags and the config.
func (a *app) client() (*client.Client, error) {
	base, token := a.apiURL, a.token
	if token == "" {
		token = a.env(TokenEnv)
	}
	if base == "" || token == "" {
		cfg, err := a.config()
		if err != nil {
			return nil, err
		}
		if base == "" {
			base = apiURL(cfg.API.Listen)
		}
		if token == "" && len(cfg.API.Tokens) > 0 {
			token = cfg.API.Tokens[0]
		}
	}
	return client.New(base, client.Options{Token: token})
}

// apiURL turns a listen address into the URL to reach it from this host:
// an unspecified host (":8080", "0.0.0.0:8080", "[::]:8080") means the
// loopback address.
func apiURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	switch ip := net.ParseIP(host); {
	case host == "":
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified() && ip.To4() == nil:
		host = "::1"
	case ip != nil && ip.IsUnspecified():
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// terminal returns w's terminal width when w is a terminal.
func terminal(w io.Writer) (width func() int, ok bool) {
	f, isFile := w.(*os.File)
	if !isFile || !term.IsTerminal(int(f.Fd())) {
		return nil, false
	}
	return func() int {
		cols, _, err := term.GetSize(int(f.Fd()))
		if err != nil {
			return 0
		}
		return cols
	}, true
}

// optBool is a boolean flag that remembers whether it was given.
type optBool struct {
	set, value bool
}

func (b *optBool) String() string {
	if b == nil || !b.set {
		return ""
	}
	return strconv.FormatBool(b.value)
}

func (b *optBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.set, b.value = true, v
	return nil
}

func (b *optBool) IsBoolFlag() bool { return true }

// oneArg checks that args holds exactly one argument.
func oneArg(fs *flag.FlagSet, args []string, what string) (string, error) {
	if len(args) != 1 {
		fmt.Fprintf(fs.Output(), "asrctl %s: want one %s\n", fs.Name(), what)
		fs.Usage()
		return "", errUsage
	}
	return args[0], nil
}
