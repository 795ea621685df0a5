package engine

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// ggml's log levels, as whisper.cpp and ggml pass them to a log callback.
const (
	ggmlLogDebug = 1
	ggmlLogInfo  = 2
	ggmlLogWarn  = 3
	ggmlLogError = 4
	ggmlLogCont  = 5 // continues the previous message
)

// logSink turns the pieces of text whisper.cpp and ggml log into whole
// lines on a slog.Logger. A message may arrive in several pieces and hold
// several lines; a line is logged when its newline arrives, or when a new
// message starts.
type logSink struct {
	mu      sync.Mutex
	logger  *slog.Logger
	pending strings.Builder
	level   slog.Level
}

// sink receives the native libraries' log lines. Their log callback is
// process-wide, so the lines go to the logger of the most recent Load.
var sink = &logSink{logger: slog.New(slog.DiscardHandler)}

// setLogger makes l the destination of future lines; nil discards them.
func (s *logSink) setLogger(l *slog.Logger) {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	s.mu.Lock()
	s.logger = l
	s.mu.Unlock()
}

// write takes one piece of text logged at a ggml level.
func (s *logSink) write(level int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if level != ggmlLogCont {
		s.flushLocked()
		s.level = slogLevel(level)
	}
	for {
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			s.pending.WriteString(text)
			return
		}
		s.pending.WriteString(text[:i])
		s.flushLocked()
		text = text[i+1:]
	}
}

// flushLocked logs the pending line, if it holds anything but blanks.
func (s *logSink) flushLocked() {
	line := strings.TrimRight(s.pending.String(), " \t\r")
	s.pending.Reset()
	if strings.TrimSpace(line) == "" {
		return
	}
	s.logger.Log(context.Background(), s.level, line, "component", "whisper.cpp")
}

// slogLevel maps a ggml level: information and debug output become debug
// lines, warnings and errors keep their level.
func slogLevel(level int) slog.Level {
	switch level {
	case ggmlLogWarn:
		return slog.LevelWarn
	case ggmlLogError:
		return slog.LevelError
	default:
		return slog.LevelDebug
	}
}
