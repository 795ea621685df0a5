package queue

import (
	"fmt"
	neturl "net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// Dial returns a Redis client for a redis://, rediss:// or unix:// URL.
// Commands time out after opTimeout (blocking reads get their own block
// time on top), so a hung server turns into errors rather than hangs.
func Dial(url string, dialTimeout, opTimeout time.Duration) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("queue: redis url: %w", err)
	}
	opts.DialTimeout = dialTimeout
	opts.ReadTimeout = opTimeout
	opts.WriteTimeout = opTimeout
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = 1
	// One dial attempt per command: with Redis down, callers get their
	// error at once instead of after several dial retries.
	opts.DialerRetries = 1
	return redis.NewClient(opts), nil
}

// RedactURL returns url with any password replaced, for logging.
func RedactURL(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}
