// Command asrctl is asr-server's operator tool: it transcribes files
// through the API with live progress, inspects and manages jobs and the
// queue, scales the local worker instances and installs models.
//
//	asrctl [global flags] COMMAND [flags] [args]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := newApp(os.Stdout, os.Stderr, os.Environ()).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// errUsage marks an error in the command line; its message has been
// printed with the usage.
var errUsage = errors.New("usage")

// command is one of asrctl's commands.
type command struct {
	args    string
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

// commands lists the commands in the order help shows them.
var commands = []struct {
	name string
	command
}{
	{"transcribe", command{"FILE...", "transcribe audio files and write their results",
		runTranscribe}},
	{"jobs", command{"[--state S] [--limit N]", "list jobs in one state, or the latest",
		runJobs}},
	{"job", command{"ID", "show a job", runJob}},
	{"cancel", command{"ID", "cancel a queued or running job", runCancel}},
	{"requeue", command{"ID", "queue a failed job again", runRequeue}},
	{"queue", command{"", "show the queue and its live workers", runQueue}},
	{"model", command{"list | pull NAME | use NAME", "list, install or select models",
		runModel}},
	{"scale", command{"[N]", "run N asr-worker@ instances on this host", runScale}},
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c.command, true
		}
	}
	return command{}, false
}

// run runs the command line args and returns the exit code.
func (a *app) run(ctx context.Context, args []string) int {
	fs := a.flagSet("asrctl", "COMMAND [flags] [args]")
	fs.Usage = func() { a.usage(fs) }
	if err := fs.Parse(args); err != nil {
		return exitCode(err)
	}
	if fs.NArg() == 0 || fs.Arg(0) == "help" {
		a.usage(fs)
		if fs.NArg() == 0 {
			return exitUsage
		}
		return exitOK
	}
	name := fs.Arg(0)
	cmd, ok := lookup(name)
	if !ok {
		fmt.Fprintf(a.stderr, "asrctl: unknown command %q (see asrctl help)\n", name)
		return exitUsage
	}
	err := cmd.run(ctx, a, fs.Args()[1:])
	if err != nil && !errors.Is(err, errUsage) && !errors.Is(err, errReported) &&
		!errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(a.stderr, "asrctl %s: %v\n", name, err)
	}
	return exitCode(err)
}

// errReported marks a failure whose details were printed already.
var errReported = errors.New("failed")

func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	default:
		return exitFailure
	}
}

func (a *app) usage(fs *flag.FlagSet) {
	w := a.stderr
	fmt.Fprintln(w, "usage: asrctl [global flags] COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %-28s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w, "\nglobal flags (also accepted after the command):")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nRun asrctl COMMAND -h for a command's flags.")
}

// printf writes to standard output.
func (a *app) printf(format string, args ...any) {
	fmt.Fprintf(a.stdout, format, args...)
}
