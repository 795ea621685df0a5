package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/transcript"
)

// defaultListLimit is the number of jobs GET /v1/jobs lists when the
// request names no limit.
const defaultListLimit = 50

// listedJobView is a job in a listing: the job as GET /v1/jobs/{id} shows
// it, without its result, which can be large; that call or the result's
// own endpoint serves it.
type listedJobView struct {
	jobView
	Result *transcript.Result `json:"result,omitempty"`
}

// listJobs answers GET /v1/jobs?state=S&limit=N with the jobs in state S
// (any state when S is absent) in the order queue.Store.List gives.
func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	filter, limit, aerr := parseListQuery(r.URL.Query())
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.OpTimeout)
	defer cancel()
	jobs, err := s.store.List(ctx, filter, limit)
	if err != nil {
		s.log.Warn("listing jobs failed", "state", string(filter), "err", err)
		writeError(w, storeError(err))
		return
	}
	views := make([]listedJobView, len(jobs))
	for i, j := range jobs {
		views[i] = listedJobView{jobView: newJobView(j)}
	}
	writeJSON(w, http.StatusOK, struct {
		Jobs []listedJobView `json:"jobs"`
	}{views})
}

// parseListQuery reads the state and limit of a job listing.
func parseListQuery(q url.Values) (queue.Filter, int64, *apiError) {
	filter, err := queue.ParseFilter(q.Get("state"))
	if err != nil {
		names := make([]string, 0, len(queue.Filters()))
		for _, f := range queue.Filters() {
			names = append(names, string(f))
		}
		return "", 0, badRequest("unknown_state", "state",
			"state must be one of "+strings.Join(names, ", ")+", or absent for all")
	}
	limit := int64(defaultListLimit)
	if raw := q.Get("limit"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 || n > queue.MaxListLimit {
			return "", 0, badRequest("invalid_limit", "limit",
				fmt.Sprintf("limit must be a whole number from 1 to %d", queue.MaxListLimit))
		}
		limit = n
	}
	return filter, limit, nil
}
