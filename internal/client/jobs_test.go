package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestJobs(t *testing.T) {
	second := strings.Replace(strings.TrimSpace(jobJSON), `"position":3`, `"position":4`, 1)
	second = strings.Replace(second, "0123456789abcdef0123456789abcdef",
		"fedcba9876543210fedcba9876543210", 1)
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("state") == "bogus" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"message":"state must be one of queued",`+
				`"type":"invalid_request_error","param":"state","code":"unknown_state"}}`)
			return
		}
		io.WriteString(w, `{"jobs":[`+strings.TrimSpace(jobJSON)+`,`+second+`]}`)
	})
	ctx := context.Background()
	jobs, err := c.Jobs(ctx, Queued, 7)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("jobs %+v, %v", jobs, err)
	}
	if r := f.last(t); r.method != "GET" || r.path != "/v1/jobs" ||
		r.query != "limit=7&state=queued" || r.header.Get("Authorization") != "Bearer "+token {
		t.Errorf("request %s %s?%s", r.method, r.path, r.query)
	}
	if jobs[0].ID != "0123456789abcdef0123456789abcdef" || *jobs[0].Position != 3 ||
		jobs[1].ID != "fedcba9876543210fedcba9876543210" || *jobs[1].Position != 4 ||
		string(jobs[1].Raw) != second {
		t.Errorf("jobs %+v", jobs)
	}
	if _, err := c.Jobs(ctx, "", 50); err != nil {
		t.Fatal(err)
	}
	if r := f.last(t); r.query != "limit=50" {
		t.Errorf("query without a state: %q", r.query)
	}
	_, err = c.Jobs(ctx, "bogus", 50)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Param != "state" ||
		ae.Code != "unknown_state" {
		t.Errorf("error %#v", err)
	}
}
