package logging

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"unicode"

	"github.com/coreos/go-systemd/v22/journal"
)

// journalHandler writes records to the systemd journal natively: the
// message as MESSAGE, the level as PRIORITY, and every attribute as a
// journal field of its own, upper case (job_id becomes JOB_ID), so that
// "journalctl -u asr-worker@3 JOB_ID=..." finds one job's story.
type journalHandler struct {
	level slog.Leveler
	attrs []slog.Attr
	group string // prefix of attribute names, from WithGroup
	send  func(msg string, pri journal.Priority, fields map[string]string) error
}

func newJournalHandler(level slog.Leveler) *journalHandler {
	return &journalHandler{level: level, send: journal.Send}
}

func (h *journalHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *journalHandler) Handle(_ context.Context, r slog.Record) error {
	fields := make(map[string]string, len(h.attrs)+r.NumAttrs())
	for _, a := range h.attrs {
		addField(fields, "", a)
	}
	r.Attrs(func(a slog.Attr) bool {
		addField(fields, h.group, a)
		return true
	})
	if err := h.send(r.Message, priority(r.Level), fields); err != nil {
		return fmt.Errorf("logging: journal: %w", err)
	}
	return nil
}

func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), prefixed(h.group, attrs)...)
	return &c
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.group = h.group + name + "_"
	return &c
}

func prefixed(group string, attrs []slog.Attr) []slog.Attr {
	if group == "" {
		return attrs
	}
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = slog.Attr{Key: group + a.Key, Value: a.Value}
	}
	return out
}

// addField stores a as a journal field; groups flatten into prefixes.
func addField(fields map[string]string, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			addField(fields, prefix+a.Key+"_", g)
		}
		return
	}
	if name := fieldName(prefix + a.Key); name != "" {
		fields[name] = v.String()
	}
}

// fieldName turns an attribute key into a valid journal field name:
// upper-case letters, digits and underscores, not starting with one.
func fieldName(key string) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return unicode.ToUpper(r)
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			return r
		default:
			return '_'
		}
	}, key)
	name = strings.TrimLeft(name, "_0123456789")
	if name == "" || name == "MESSAGE" || name == "PRIORITY" {
		return ""
	}
	return name
}

func priority(l slog.Level) journal.Priority {
	switch {
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	default:
		return journal.PriDebug
	}
}
