package engine

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLogSink(t *testing.T) {
	var buf bytes.Buffer
	s := &logSink{}
	s.setLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "component" {
				return slog.Attr{}
			}
			return a
		},
	})))
	s.write(ggmlLogInfo, "whisper_model_load: loading model\n")
	s.write(ggmlLogInfo, "two\nlines\n")
	s.write(ggmlLogInfo, "progress ")
	s.write(ggmlLogCont, ".")
	s.write(ggmlLogCont, ". done\r\n")
	s.write(ggmlLogWarn, "partial")
	s.write(ggmlLogError, "failed\n\n")
	s.write(ggmlLogDebug, "  \n")

	want := strings.Join([]string{
		`level=DEBUG msg="whisper_model_load: loading model"`,
		`level=DEBUG msg=two`,
		`level=DEBUG msg=lines`,
		`level=DEBUG msg="progress .. done"`,
		`level=WARN msg=partial`,
		`level=ERROR msg=failed`,
	}, "\n") + "\n"
	if got := buf.String(); got != want {
		t.Errorf("logged:\n%s\nwant:\n%s", got, want)
	}
}
