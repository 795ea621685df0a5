package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// redisLog passes go-redis's own messages (failed dials and the like) to
// the daemon's logger instead of raw lines on stderr.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	l.log.LogAttrs(ctx, slog.LevelWarn, "redis client", slog.String("detail", msg))
}
