package logging

import (
	"log/slog"
	"reflect"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
)

type sent struct {
	msg    string
	pri    journal.Priority
	fields map[string]string
}

func TestJournalFields(t *testing.T) {
	var got []sent
	h := newJournalHandler(slog.LevelDebug)
	h.send = func(msg string, pri journal.Priority, fields map[string]string) error {
		got = append(got, sent{msg, pri, fields})
		return nil
	}
	log := slog.New(h).With("instance", "3")
	log.Info("job succeeded", "job_id", "abc", "attempt", 2, "audio_s", 11.0, "rtf", 0.01)
	log.WithGroup("http").Warn("slow", "path", "/v1/jobs", "9lives", 1, "message", "x")
	log.Debug("detail")
	log.Error("broken", slog.Group("redis", "addr", "x"))
	want := []sent{
		{"job succeeded", journal.PriInfo, map[string]string{"INSTANCE": "3", "JOB_ID": "abc",
			"ATTEMPT": "2", "AUDIO_S": "11", "RTF": "0.01"}},
		{"slow", journal.PriWarning, map[string]string{"INSTANCE": "3",
			"HTTP_PATH": "/v1/jobs", "HTTP_9LIVES": "1", "HTTP_MESSAGE": "x"}},
		{"detail", journal.PriDebug, map[string]string{"INSTANCE": "3"}},
		{"broken", journal.PriErr, map[string]string{"INSTANCE": "3", "REDIS_ADDR": "x"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestFieldName(t *testing.T) {
	for key, want := range map[string]string{
		"job_id": "JOB_ID", "audio-s": "AUDIO_S", "_x": "X", "9a": "A", "message": "",
		"priority": "", "": "", "é": "",
	} {
		if got := fieldName(key); got != want {
			t.Errorf("fieldName(%q) = %q, want %q", key, got, want)
		}
	}
}
