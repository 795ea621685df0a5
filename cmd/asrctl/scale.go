package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/asr-server/asr-server/internal/fleet"
)

// runScale starts or stops asr-worker@ instances on this host so that N
// run, or shows the running ones without N.
func runScale(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("scale", "[N] [--timeout D]")
	timeout := fs.Duration("timeout", 5*time.Minute, "wait at most this `long` for the "+
		"instances to start (model loaded) or stop (jobs finished or handed back)")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	n := -1
	switch len(rest) {
	case 0:
	case 1:
		if n, err = strconv.Atoi(rest[0]); err != nil || n < 0 {
			fmt.Fprintf(a.stderr, "asrctl scale: %q is not a number of instances\n", rest[0])
			return errUsage
		}
	default:
		fs.Usage()
		return errUsage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	m, err := fleet.Connect(ctx)
	if err != nil {
		return err
	}
	defer m.Close()
	var change fleet.Change
	if n >= 0 {
		change, err = m.Scale(ctx, n)
		// Report what changed even when not all of it completed.
		a.printChange(change)
		if err != nil {
			return err
		}
	}
	running, err := m.Running(ctx)
	if err != nil {
		return err
	}
	if a.jsonOut {
		return printJSON(a.stdout, struct {
			Started []string `json:"started"`
			Stopped []string `json:"stopped"`
			Running []string `json:"running"`
		}{nonNil(change.Started), nonNil(change.Stopped), nonNil(running)})
	}
	a.printf("%d running: %s\n", len(running), strings.Join(prefixed(running), " "))
	return nil
}

func (a *app) printChange(c fleet.Change) {
	if a.jsonOut {
		return
	}
	if len(c.Started) > 0 {
		a.printf("started %s\n", strings.Join(prefixed(c.Started), " "))
	}
	if len(c.Stopped) > 0 {
		a.printf("stopped %s\n", strings.Join(prefixed(c.Stopped), " "))
	}
}

// prefixed returns the unit names of instances.
func prefixed(instances []string) []string {
	units := make([]string, len(instances))
	for i, inst := range instances {
		units[i] = "asr-worker@" + inst
	}
	return units
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
