package worker

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Backoff bounds for retries against the queue.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second
)

// retryBackoff doubles a delay per failure up to a cap, with jitter, and
// logs the first failure, then every tenth, then the recovery.
type retryBackoff struct {
	failures int
}

func (b *retryBackoff) fail(log *slog.Logger, msg string, err error) {
	b.failures++
	if b.failures == 1 || b.failures%10 == 0 {
		log.Warn(msg, "err", err, "failures", b.failures)
	}
}

func (b *retryBackoff) recovered(log *slog.Logger, msg string) {
	if b.failures > 0 {
		log.Info(msg, "failures", b.failures)
		b.failures = 0
	}
}

func (b *retryBackoff) delay() time.Duration {
	d := backoffMin << min(b.failures, 10)
	d = min(d, backoffMax)
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
