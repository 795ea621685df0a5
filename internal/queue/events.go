package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/asr-server/asr-server/internal/transcript"
)

// Event is one entry of a job's event stream: a change of state
// ("state"), progress ("progress") or a decoded segment ("segment").
type Event struct {
	// ID orders the events of a job; a client resumes after it.
	ID   string
	Type string
	Data json.RawMessage
}

// Events returns up to count events of job id that follow the event
// after ("" for the first).
func (s *Store) Events(ctx context.Context, id, after string, count int64) ([]Event, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	start := "-"
	if after != "" {
		start = "(" + after
	}
	msgs, err := s.rdb.XRangeN(ctx, s.eventsKey(id), start, "+", count).Result()
	if err != nil {
		return nil, fmt.Errorf("queue: events of job %s: %w", id, err)
	}
	events := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		kind, _ := m.Values["type"].(string)
		data, _ := m.Values["data"].(string)
		events = append(events, Event{ID: m.ID, Type: kind, Data: json.RawMessage(data)})
	}
	return events, nil
}

// ValidEventID reports whether s has the shape of an event id.
func ValidEventID(s string) bool {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(ms, 10, 64)
	_, err2 := strconv.ParseUint(seq, 10, 64)
	return err1 == nil && err2 == nil
}

// Progress records how far the running job of d has come, in percent.
func (s *Store) Progress(ctx context.Context, d *Delivery, percent int) error {
	data := fmt.Sprintf(`{"percent":%d}`, percent)
	return s.report(ctx, d, "progress", []byte(data), strconv.Itoa(percent))
}

// Segment records a segment of d's job as soon as it is decoded.
func (s *Store) Segment(ctx context.Context, d *Delivery, seg transcript.Segment) error {
	data, err := json.Marshal(struct {
		Start float64 `json:"start"`
		End   float64 `json:"end"`
		Text  string  `json:"text"`
	}{seg.Start, seg.End, seg.Text})
	if err != nil {
		return fmt.Errorf("queue: encode segment: %w", err)
	}
	return s.report(ctx, d, "segment", data, "")
}

func (s *Store) report(ctx context.Context, d *Delivery, kind string, data []byte,
	percent string) error {
	keys := []string{s.stream(), s.jobKey(d.Job.ID), s.eventsKey(d.Job.ID)}
	ok, err := reportScript.Run(ctx, s.rdb, keys, group, d.entry, d.Consumer, d.Attempt,
		kind, data, percent).Int()
	if err != nil {
		return fmt.Errorf("queue: report %s of job %s: %w", kind, d.Job.ID, err)
	}
	if ok == 0 {
		return ErrLost
	}
	return nil
}
