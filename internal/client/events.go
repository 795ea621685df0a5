package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// MaxEventBytes bounds one event of a stream; a longer one is an error.
const MaxEventBytes = 1 << 20

// ErrEventTooLarge reports an event over MaxEventBytes.
var ErrEventTooLarge = errors.New("client: event stream: event too large")

// DefaultEventIdle is how long an event stream may send nothing before it
// counts as lost: the service sends a comment every 15 s while nothing
// happens, so a longer silence is a dead connection.
const DefaultEventIdle = time.Minute

// ErrEventIdle reports an event stream that stayed silent too long.
var ErrEventIdle = errors.New("no event received")

// Event is one Server-Sent Event of a job's stream: "state", "progress"
// or "segment", with its JSON data.
type Event struct {
	ID   string
	Type string
	Data []byte
}

// StateChange is the data of a "state" event.
type StateChange struct {
	State   string `json:"state"`
	Attempt int    `json:"attempt"`
	Worker  string `json:"worker"`
	// Error and Code say why an attempt failed.
	Error string `json:"error"`
	Code  string `json:"code"`
}

// StateChange decodes the data of a "state" event.
func (e Event) StateChange() (StateChange, error) {
	var s StateChange
	if err := json.Unmarshal(e.Data, &s); err != nil {
		return s, fmt.Errorf("client: state event %s: %w", e.ID, err)
	}
	return s, nil
}

// Percent decodes the data of a "progress" event.
func (e Event) Percent() (int, error) {
	var p struct {
		Percent int `json:"percent"`
	}
	if err := json.Unmarshal(e.Data, &p); err != nil {
		return 0, fmt.Errorf("client: progress event %s: %w", e.ID, err)
	}
	return p.Percent, nil
}

// EventStream reads a job's events as they happen.
type EventStream struct {
	body io.ReadCloser
	r    *bufio.Reader
	// last is the id of the last event read, for resuming.
	last string
}

// Events opens the event stream of job id, after the event with id after
// ("" for the whole stream). Close the stream when done; cancelling ctx
// ends it too.
func (c *Client) Events(ctx context.Context, id, after string) (*EventStream, error) {
	req, err := c.newRequest(ctx, http.MethodGet, jobPath(id)+"/events", nil, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if after != "" {
		req.Header.Set("Last-Event-ID", after)
	}
	resp, err := c.send(req)
	if err != nil {
		return nil, err
	}
	body := newIdleReader(resp.Body, c.eventIdle)
	return &EventStream{body: body, r: bufio.NewReader(body), last: after}, nil
}

// idleReader closes a body that delivers nothing for idle, so that a
// blocked Read returns ErrEventIdle.
type idleReader struct {
	body    io.ReadCloser
	idle    time.Duration
	timer   *time.Timer
	expired atomic.Bool
}

func newIdleReader(body io.ReadCloser, idle time.Duration) *idleReader {
	r := &idleReader{body: body, idle: idle}
	r.timer = time.AfterFunc(idle, func() {
		r.expired.Store(true)
		body.Close()
	})
	return r
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	if n > 0 {
		r.timer.Reset(r.idle)
	}
	if err != nil && r.expired.Load() {
		err = fmt.Errorf("%w for %v", ErrEventIdle, r.idle)
	}
	return n, err
}

func (r *idleReader) Close() error {
	r.timer.Stop()
	return r.body.Close()
}

// Next returns the next event. It returns io.EOF when the service ended
// the stream, which it does after the job's final state.
func (s *EventStream) Next() (Event, error) {
	ev, err := ReadEvent(s.r)
	if err != nil {
		return ev, err
	}
	if ev.ID != "" {
		s.last = ev.ID
	}
	return ev, nil
}

// LastID returns the id of the last event read, to resume after it.
func (s *EventStream) LastID() string { return s.last }

// Close closes the stream.
func (s *EventStream) Close() error { return s.body.Close() }

// ReadEvent reads one event in the text/event-stream format from r:
// "field: value" lines ended by a blank line. Comment lines (starting with
// ':') and blocks without data are skipped; several data lines are joined
// with newlines. It returns io.EOF at the end of the input, also when the
// input ends inside an unfinished event, which is then dropped.
func ReadEvent(r *bufio.Reader) (Event, error) {
	var ev Event
	var data bytes.Buffer
	hasData, size := false, 0
	for {
		line, err := readLine(r, MaxEventBytes-size)
		if err != nil {
			return Event{}, err
		}
		size += len(line) + 1
		if len(line) == 0 {
			if hasData {
				ev.Data = data.Bytes()
				return ev, nil
			}
			ev = Event{}
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			ev.Type = string(value)
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.Write(value)
			hasData = true
		case "id":
			if !bytes.ContainsRune(value, 0) {
				ev.ID = string(value)
			}
		}
	}
}

// readLine reads one line ended by "\n", "\r\n" or "\r" ("\r\n" here
// only when both arrive together), without its end, of at most max bytes.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		b, err := r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("client: event stream: %w", err)
		}
		switch b {
		case '\n':
			return line, nil
		case '\r':
			if next, err := r.Peek(1); err == nil && next[0] == '\n' {
				r.ReadByte()
			}
			return line, nil
		}
		if len(line) >= max {
			return nil, ErrEventTooLarge
		}
		line = append(line, b)
	}
}
