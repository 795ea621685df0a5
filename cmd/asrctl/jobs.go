package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/asr-server/asr-server/internal/client"
	"github.com/asr-server/asr-server/internal/progress"
)

// listStates are the states that jobs --state takes, as GET /v1/jobs
// names them.
var listStates = []string{client.Queued, client.Running, client.Retrying,
	client.Succeeded, client.Failed, client.Canceled}

// runJobs lists jobs through GET /v1/jobs: those in one state, or in any
// state the most recently created first.
func runJobs(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("jobs", "[--state S] [--limit N]")
	state := fs.String("state", "", "only jobs in this `state`: "+
		strings.Join(listStates, ", "))
	limit := fs.Int("limit", 50, "list at most `N` jobs, 1 to 1000")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		fs.Usage()
		return errUsage
	}
	if *state != "" && !slices.Contains(listStates, *state) {
		fmt.Fprintf(a.stderr, "asrctl jobs: no state %q: choose one of %s\n", *state,
			strings.Join(listStates, ", "))
		return errUsage
	}
	if *limit < 1 || *limit > 1000 {
		fmt.Fprintf(a.stderr, "asrctl jobs: --limit %d is not within 1 to 1000\n", *limit)
		return errUsage
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	jobs, err := c.Jobs(ctx, *state, *limit)
	if err != nil {
		return err
	}
	if a.jsonOut {
		raws := make([]json.RawMessage, len(jobs))
		for i, j := range jobs {
			raws[i] = j.Raw
		}
		return printJSON(a.stdout, raws)
	}
	if len(jobs) == 0 {
		what := "jobs"
		if *state != "" {
			what = *state + " jobs"
		}
		a.printf("no %s\n", what)
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tATTEMPTS\tPROGRESS\tFILE\tCREATED\tERROR")
	for _, j := range jobs {
		state, progress := j.State, fmt.Sprintf("%d%%", j.Progress)
		switch {
		case j.State == client.Queued && j.RetryAt != nil:
			state = client.Retrying
		case j.State == client.Queued && j.Position != nil:
			progress = fmt.Sprintf("#%d", *j.Position)
		}
		errText := ""
		if j.Error != nil {
			errText = shorten(j.Error.Message, 60)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", j.ID, state, j.Attempts,
			progress, shorten(j.File.Name, 30), j.CreatedAt.Local().Format(time.DateTime),
			errText)
	}
	return tw.Flush()
}

func runJob(ctx context.Context, a *app, args []string) error {
	return jobCommand(ctx, a, args, "job", "show", (*client.Client).Job)
}

func runCancel(ctx context.Context, a *app, args []string) error {
	return jobCommand(ctx, a, args, "cancel", "canceled", (*client.Client).Cancel)
}

func runRequeue(ctx context.Context, a *app, args []string) error {
	return jobCommand(ctx, a, args, "requeue", "queued again", (*client.Client).Requeue)
}

// jobCommand runs a command that takes a job id and answers with the job.
func jobCommand(ctx context.Context, a *app, args []string, name, done string,
	call func(*client.Client, context.Context, string) (*client.Job, error)) error {
	fs := a.flagSet(name, "ID")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := oneArg(fs, rest, "job id")
	if err != nil {
		return err
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	j, err := call(c, ctx, id)
	if err != nil {
		return err
	}
	if a.jsonOut {
		return printJSON(a.stdout, j.Raw)
	}
	if name != "job" {
		a.printf("job %s %s\n", j.ID, done)
	}
	printJob(a.stdout, j)
	return nil
}

// printJob shows a job as aligned "field: value" lines.
func printJob(w io.Writer, j *client.Job) {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	line := func(key, format string, v ...any) {
		fmt.Fprintf(tw, "%s:\t%s\n", key, fmt.Sprintf(format, v...))
	}
	line("id", "%s", j.ID)
	state := j.State
	if j.Attempts > 0 {
		state += fmt.Sprintf(" (attempt %d)", j.Attempts)
	}
	line("state", "%s", state)
	if j.State == client.Running || j.Progress > 0 {
		line("progress", "%d%%", j.Progress)
	}
	if j.Position != nil {
		line("position", "%d", *j.Position)
	}
	if j.RetryAt != nil {
		line("retry at", "%s", j.RetryAt.Local().Format(time.DateTime))
	}
	line("file", "%s (%s, %s)", j.File.Name, j.File.ContentType, progress.Bytes(j.File.Bytes))
	line("created", "%s", j.CreatedAt.Local().Format(time.DateTime))
	if j.StartedAt != nil {
		line("started", "%s", j.StartedAt.Local().Format(time.DateTime))
	}
	if j.FinishedAt != nil {
		line("finished", "%s", j.FinishedAt.Local().Format(time.DateTime))
	}
	if j.Error != nil {
		line("error", "%s (%s)", j.Error.Message, j.Error.Code)
	}
	for _, h := range j.History {
		line("attempt", "%d on %s at %s: %s (%s)", h.Attempt, h.Worker,
			h.At.Local().Format(time.DateTime), h.Error, h.Code)
	}
	if r := j.Result; r != nil {
		line("result", "%d segments, %.1f s of %s audio, model %s", len(r.Segments),
			r.Duration, r.Language, r.Model)
		line("text", "%s", shorten(r.Text, 200))
	}
	tw.Flush()
}

func runQueue(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("queue", "")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		fs.Usage()
		return errUsage
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	q, err := c.Queue(ctx)
	if err != nil {
		return err
	}
	if a.jsonOut {
		return printJSON(a.stdout, q.Raw)
	}
	a.printf("queued: %d  retrying: %d  running: %d  dead letters: %d  oldest queued: %s\n",
		q.Queued, q.Retrying, q.Running, q.DeadLetters, seconds(q.OldestQueuedSeconds))
	a.printf("%d workers\n", len(q.Workers))
	if len(q.Workers) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nWORKER\tHOST\tPID\tJOB\tPROGRESS\tDONE\tHEARTBEAT")
	for _, w := range q.Workers {
		job, prog := "idle", "-"
		if w.Job != nil {
			job = *w.Job
			if j, err := c.Job(ctx, job); err == nil {
				prog = fmt.Sprintf("%d%%", j.Progress)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%s ago\n", w.Name, w.Host, w.PID, job, prog,
			w.JobsDone, seconds(w.HeartbeatAgeSeconds))
	}
	return tw.Flush()
}

// seconds formats a number of seconds for people.
func seconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(100 * time.Millisecond).String()
}

// shorten cuts s to n runes with an ellipsis, on one line.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
