package queue

import (
	"fmt"
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
	return redis.NewClient(opts), nil
}
