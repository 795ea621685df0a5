package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/transcript"
)

type sseEvent struct{ id, kind, data string }

// readEvents reads a whole event stream.
func readEvents(t *testing.T, url, lastID string) []sseEvent {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var events []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.kind != "" {
				events = append(events, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.kind = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		}
	}
	return events
}

func TestEventsStreamAndResume(t *testing.T) {
	srv, store := newServerWith(t, Options{MaxUploadBytes: 1 << 20, OpTimeout: time.Second})
	ctx := context.Background()
	resp, data := do(t, "POST", srv.URL+"/v1/jobs", "audio/wav", strings.NewReader(
		string(wav(16000))))
	job := decodeJob(t, data)
	if resp.StatusCode != 202 {
		t.Fatalf("submit: %d", resp.StatusCode)
	}
	url := srv.URL + "/v1/jobs/" + job.ID + "/events"

	// A client following the job live sees every event up to the end.
	live := make(chan []sseEvent, 1)
	go func() { live <- readEvents(t, url, "") }()
	d, err := store.Take(ctx, "w", 100*time.Millisecond)
	if err != nil || d == nil {
		t.Fatalf("take: %v %v", d, err)
	}
	if err := store.Progress(ctx, d, 40); err != nil {
		t.Fatal(err)
	}
	seg := transcript.Segment{Start: 0, End: 1, Text: "hello"}
	if err := store.Segment(ctx, d, seg); err != nil {
		t.Fatal(err)
	}
	if j, _ := store.Get(ctx, job.ID); j.Progress != 40 {
		t.Errorf("progress %d, want 40", j.Progress)
	}
	if err := store.Finish(ctx, d, &transcript.Result{Text: "hello", Duration: 1,
		Segments: []transcript.Segment{seg}}); err != nil {
		t.Fatal(err)
	}
	var all []sseEvent
	select {
	case all = <-live:
	case <-time.After(20 * time.Second):
		t.Fatal("the event stream did not end after the job succeeded")
	}
	want := []struct{ kind, data string }{
		{"state", `{"state":"queued"}`},
		{"state", `{"attempt":1,"state":"running","worker":"w"}`},
		{"progress", `{"percent":40}`},
		{"segment", `{"start":0,"end":1,"text":"hello"}`},
		{"state", `{"state":"succeeded"}`},
	}
	if len(all) != len(want) {
		t.Fatalf("events %+v", all)
	}
	for i, w := range want {
		if all[i].kind != w.kind || !sameJSON(all[i].data, w.data) || all[i].id == "" {
			t.Errorf("event %d = %+v, want %+v", i, all[i], w)
		}
	}
	// Resuming after the second event gives the rest: no gap, no repeat.
	rest := readEvents(t, url, all[1].id)
	if len(rest) != 3 || rest[0].id != all[2].id || rest[2].id != all[4].id {
		t.Fatalf("resumed after %s: %+v", all[1].id, rest)
	}
	resp, data = do(t, "GET", url+"?last_event_id=bogus", "", nil)
	if resp.StatusCode != 400 {
		t.Fatalf("bogus last id: %d", resp.StatusCode)
	}
	checkError(t, resp, data, "invalid_last_event_id", "Last-Event-ID")
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}
