package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Defaults of a Sender whose fields are not set.
const (
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = 5 * time.Minute
)

const (
	userAgent       = "asr-server"
	maxResponseBody = 64 << 10
	maxEventName    = 128
)

// StatusError is the error of an attempt that the receiver answered with
// a status other than 2xx.
type StatusError struct {
	StatusCode int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("webhook: receiver answered %d %s",
		e.StatusCode, http.StatusText(e.StatusCode))
}

// Retryable reports whether a later attempt may succeed: true for 408,
// 429 and 5xx; false for redirects (they are not followed) and the other
// 4xx.
func (e *StatusError) Retryable() bool {
	c := e.StatusCode
	return c == http.StatusRequestTimeout || c == http.StatusTooManyRequests ||
		c >= 500 && c < 600
}

// Sender posts signed events to callback URLs with retries. Its fields are
// read, not changed, by Deliver, so one Sender may serve many goroutines.
type Sender struct {
	// Client sends the requests; use NewClient so that the allow-list is
	// enforced at connect time and redirects are not followed.
	Client *http.Client
	// Signer signs each attempt; its secret must not be empty.
	Signer Signer
	// MaxAttempts bounds the attempts per Deliver; below 1 means 1.
	MaxAttempts int
	// Backoff is the delay before the second attempt, doubled for each
	// further one up to MaxBackoff. Zero means DefaultBackoff and
	// DefaultMaxBackoff; a MaxBackoff below Backoff is raised to it.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Sleep waits between attempts and returns early with ctx's error;
	// nil means a timer. Tests replace it so that they do not wait.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now stamps signatures; nil means time.Now.
	Now func() time.Time
}

// Deliver posts body to target as event (such as "job.succeeded") and
// returns how many requests it made and, when delivery failed, the last
// error.
//
// Each attempt is a POST with Content-Type application/json, User-Agent
// asr-server, Asr-Event and a fresh Asr-Signature. A 2xx answer ends
// delivery. A redirect, a 4xx other than 408 and 429, or a connection the
// allow-list refuses (ErrNotAllowed) fails at once. A 408, 429, 5xx or
// network error is retried after a
// delay that doubles from Backoff up to MaxBackoff, with jitter, and is at
// least the receiver's Retry-After (capped at MaxBackoff), until
// MaxAttempts requests were made. When ctx ends, Deliver stops and its
// error wraps ctx's error. Answers of the status kind wrap *StatusError.
// At most 64 KiB of each response body is read; the body is discarded.
//
// Deliver makes no request, and returns 0 attempts, when s has no Client
// or no secret, event is not made of letters, digits, '.', '_' and '-', or
// target is not an absolute URL.
func (s *Sender) Deliver(ctx context.Context, target string, event string,
	body []byte) (attempts int, err error) {
	if err := s.validate(target, event); err != nil {
		return 0, err
	}
	maxAttempts := max(s.MaxAttempts, 1)
	var last error
	var wait time.Duration
	for attempts < maxAttempts {
		if attempts > 0 {
			if err := s.sleep(ctx, s.delay(attempts, wait)); err != nil {
				return attempts, stopped(last, event, attempts, err)
			}
		}
		if err := ctx.Err(); err != nil {
			return attempts, stopped(last, event, attempts, err)
		}
		attempts++
		var retry bool
		wait, retry, last = s.post(ctx, target, event, body)
		switch {
		case last == nil:
			return attempts, nil
		case ctx.Err() != nil:
			return attempts, stopped(last, event, attempts, ctx.Err())
		case !retry:
			return attempts, fmt.Errorf("%w (%s, attempt %d, not retried)",
				last, event, attempts)
		}
	}
	return attempts, fmt.Errorf("%w (%s, gave up after %d attempts)", last, event, attempts)
}

// stopped is Deliver's error when ctx ended with cause.
func stopped(last error, event string, attempts int, cause error) error {
	if last == nil {
		return fmt.Errorf("webhook: deliver %s: %w", event, cause)
	}
	return fmt.Errorf("%w (%s, stopped after %d attempts: %w)", last, event, attempts, cause)
}

func (s *Sender) validate(target, event string) error {
	switch {
	case s.Client == nil:
		return errors.New("webhook: sender has no client")
	case len(s.Signer.Secret) == 0:
		return errors.New("webhook: sender has no signing secret")
	case !validEvent(event):
		return fmt.Errorf("webhook: bad event name %q", event)
	}
	u, err := url.Parse(target)
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // without the URL, whose query may hold a token
	}
	switch {
	case err != nil:
		return fmt.Errorf("webhook: bad url: %w", err)
	case !u.IsAbs() || u.Host == "":
		return errors.New("webhook: bad url: not absolute")
	}
	return nil
}

// validEvent accepts names such as "job.succeeded".
func validEvent(event string) bool {
	if event == "" || len(event) > maxEventName {
		return false
	}
	for i := 0; i < len(event); i++ {
		c := event[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// post makes one attempt. It returns the receiver's Retry-After, whether
// a failure may be retried, and the failure.
func (s *Sender) post(ctx context.Context, target, event string,
	body []byte) (wait time.Duration, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, false, fmt.Errorf("webhook: build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderEvent, event)
	req.Header.Set(HeaderSignature, s.Signer.Sign(body, s.now()))
	resp, err := s.Client.Do(req)
	if err != nil {
		// The url.Error would repeat the URL, whose query may hold a token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, !errors.Is(err, ErrNotAllowed), fmt.Errorf("webhook: post: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, false, nil
	}
	serr := &StatusError{StatusCode: resp.StatusCode}
	return retryAfter(resp.Header.Get("Retry-After"), s.now()), serr.Retryable(), serr
}

// retryAfter reads a Retry-After value in seconds or as an HTTP date. It
// returns 0 when the value is missing or unusable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// delay returns the wait before attempt n+1 after n attempts: Backoff
// doubled n-1 times, capped, with jitter over its upper half, and no less
// than the capped Retry-After wait.
func (s *Sender) delay(n int, wait time.Duration) time.Duration {
	base, ceiling := s.Backoff, s.MaxBackoff
	if base <= 0 {
		base = DefaultBackoff
	}
	if ceiling <= 0 {
		ceiling = DefaultMaxBackoff
	}
	ceiling = max(ceiling, base)
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		if d > ceiling/2 {
			d = ceiling
			break
		}
		d *= 2
	}
	d = d/2 + rand.N(d/2+1)
	return max(d, min(wait, ceiling))
}

func (s *Sender) sleep(ctx context.Context, d time.Duration) error {
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
