package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/transcript"
)

// listing is the answer of GET /v1/jobs, each job also kept as a map to
// see which keys it has.
type listing struct {
	jobs []jobView
	raw  []map[string]any
}

func getListing(t *testing.T, srv, token, query string) (*http.Response, []byte, listing) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv+"/v1/jobs"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, data := send(t, req)
	var l listing
	if resp.StatusCode != http.StatusOK {
		return resp, data, l
	}
	var body struct{ Jobs []json.RawMessage }
	if err := json.Unmarshal(data, &body); err != nil || body.Jobs == nil {
		t.Fatalf("listing %s: %s", query, data)
	}
	for _, raw := range body.Jobs {
		var m map[string]any
		json.Unmarshal(raw, &m)
		l.jobs = append(l.jobs, decodeJob(t, raw))
		l.raw = append(l.raw, m)
	}
	return resp, data, l
}

func TestListJobs(t *testing.T) {
	const token = "list-token-0123456789"
	srv, store := newServer(t, redisURL, 10, Options{OpTimeout: time.Second,
		MaxUploadBytes: 1 << 20, Tokens: []string{token}})
	// Every reading of the clock is a second after the last, so that
	// the jobs' times differ.
	var ticks atomic.Int64
	base := time.Now().Truncate(time.Second)
	store.Now = func() time.Time { return base.Add(time.Duration(ticks.Add(1)) * time.Second) }
	names := map[string]string{}
	var ids []string
	for _, name := range []string{"a", "b", "c", "d"} {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/jobs", bytes.NewReader(wav(100)))
		req.Header.Set("Content-Type", "audio/wav")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, data := send(t, req)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("submit %s: %d %s", name, resp.StatusCode, data)
		}
		id := decodeJob(t, data).ID
		names[id] = name
		ids = append(ids, id)
	}
	ctx := context.Background()
	d, err := store.Take(ctx, "w", 100*time.Millisecond)
	if err != nil || d == nil || d.Job.ID != ids[0] {
		t.Fatalf("take: %+v %v", d, err)
	}
	if err := store.Finish(ctx, d, &transcript.Result{Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Cancel(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		query     string
		want      []string
		positions []int64
	}{
		{"", []string{"d", "c", "b", "a"}, []int64{2, 1, 0, 0}},
		{"?limit=1", []string{"d"}, []int64{2}},
		{"?state=&limit=1000", []string{"d", "c", "b", "a"}, []int64{2, 1, 0, 0}},
		{"?state=queued", []string{"c", "d"}, []int64{1, 2}},
		{"?state=running", nil, nil},
		{"?state=retrying", nil, nil},
		{"?state=succeeded", []string{"a"}, []int64{0}},
		{"?state=failed", nil, nil},
		{"?state=canceled&limit=5", []string{"b"}, []int64{0}},
	}
	for _, tt := range tests {
		resp, data, l := getListing(t, srv.URL, token, tt.query)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d: %s", tt.query, resp.StatusCode, data)
			continue
		}
		var got []string
		var positions []int64
		for i, j := range l.jobs {
			got = append(got, names[j.ID])
			positions = append(positions, 0)
			if j.Position != nil {
				positions[i] = *j.Position
			}
			if _, has := l.raw[i]["result"]; has {
				t.Errorf("%s: job %s lists its result", tt.query, names[j.ID])
			}
			if j.Links["self"] != "/v1/jobs/"+j.ID {
				t.Errorf("%s: links %v", tt.query, j.Links)
			}
		}
		if !slices.Equal(got, tt.want) || !slices.Equal(positions, tt.positions) {
			t.Errorf("%s: %v positions %v, want %v positions %v", tt.query, got, positions,
				tt.want, tt.positions)
		}
	}
	// Apart from the result, a listed job is the job as GET shows it.
	_, _, l := getListing(t, srv.URL, token, "?state=succeeded")
	req, _ := http.NewRequest("GET", srv.URL+"/v1/jobs/"+ids[0], nil)
	req.Header.Set("Authorization", "Bearer "+token)
	_, data := send(t, req)
	var single map[string]any
	json.Unmarshal(data, &single)
	if single["result"] == nil {
		t.Fatalf("GET of the succeeded job has no result: %s", data)
	}
	delete(single, "result")
	listed, _ := json.Marshal(l.raw[0])
	alone, _ := json.Marshal(single)
	if !bytes.Equal(listed, alone) {
		t.Errorf("listed %s\nGET    %s", listed, alone)
	}
}

func TestListJobsErrors(t *testing.T) {
	const token = "list-token-0123456789"
	srv, _ := newServer(t, redisURL, 10, Options{OpTimeout: time.Second,
		Tokens: []string{token}})
	for _, tc := range []struct{ query, code, param string }{
		{"?state=dead", "unknown_state", "state"},
		{"?state=Queued", "unknown_state", "state"},
		{"?state=queued&limit=0", "invalid_limit", "limit"},
		{"?limit=1001", "invalid_limit", "limit"},
		{"?limit=ten", "invalid_limit", "limit"},
		{"?limit=-5", "invalid_limit", "limit"},
	} {
		resp, data, _ := getListing(t, srv.URL, token, tc.query)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d: %s", tc.query, resp.StatusCode, data)
			continue
		}
		checkError(t, resp, data, tc.code, tc.param)
	}
	resp, data, _ := getListing(t, srv.URL, "wrong", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: status %d: %s", resp.StatusCode, data)
	}
	checkError(t, resp, data, "invalid_api_key", "")
}

// FuzzParseListQuery feeds arbitrary query strings to the listing's
// parser: it must never panic, must refuse with a 400 that names the
// parameter, and must accept only known states and limits in range.
func FuzzParseListQuery(f *testing.F) {
	for _, seed := range []string{"", "state=queued", "state=retrying&limit=1000",
		"limit=1001", "limit=0x10", "state=%00", "state=queued&state=bogus", "limit=+7",
		"limit=9223372036854775808"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		filter, limit, aerr := parseListQuery(q)
		if aerr != nil {
			if aerr.Status != 400 || aerr.Param == nil ||
				(*aerr.Param != "state" && *aerr.Param != "limit") {
				t.Fatalf("%q: error %+v", query, aerr)
			}
			return
		}
		if filter != queue.ListAll && !slices.Contains(queue.Filters(), filter) ||
			string(filter) != q.Get("state") || limit < 1 || limit > queue.MaxListLimit ||
			q.Get("limit") == "" && limit != defaultListLimit ||
			strings.TrimSpace(q.Get("limit")) != q.Get("limit") {
			t.Fatalf("%q: accepted state %q limit %d", query, filter, limit)
		}
	})
}
