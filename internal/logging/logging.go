// Package logging builds the daemons' slog loggers from the [log] config.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/coreos/go-systemd/v22/journal"
)

// isStderrJournal reports whether w is stderr and systemd connected
// stderr to the journal (JOURNAL_STREAM names it).
func isStderrJournal(w io.Writer) bool {
	if w != os.Stderr {
		return false
	}
	ok, err := journal.StderrIsJournalStream()
	return err == nil && ok
}

// New returns a logger at the given level ("debug", "info", "warn" or
// "error") in the given format: "text" or "json" on w, "journal" to the
// systemd journal with structured fields, or "auto" for the journal when
// w is the process's stderr and systemd connected it to the journal, else
// text.
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("logging: level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "auto" {
		format = "text"
		if isStderrJournal(w) {
			format = "journal"
		}
	}
	switch format {
	case "journal":
		return slog.New(newJournalHandler(lv)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("logging: unknown format %q", format)
	}
}
