// Package sdnotify tells systemd about a daemon's state (sd_notify(3)):
// READY=1 once it serves, STATUS= lines a person can read, STOPPING=1 on
// shutdown. Outside systemd (NOTIFY_SOCKET unset) every call does nothing.
package sdnotify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends notifications; the zero value is not usable, use New.
type Notifier struct {
	log  *slog.Logger
	once sync.Once // logs the first send error only
}

// New returns a Notifier that logs the first failure to notify.
func New(log *slog.Logger) *Notifier { return &Notifier{log: log} }

func (n *Notifier) send(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.once.Do(func() { n.log.Warn("notifying systemd failed", "err", err) })
	}
}

// Ready reports that the daemon has finished starting.
func (n *Notifier) Ready() { n.send(daemon.SdNotifyReady) }

// Status sets the one-line status shown by systemctl status.
func (n *Notifier) Status(text string) { n.send("STATUS=" + text) }

// Stopping reports that the daemon is shutting down.
func (n *Notifier) Stopping() { n.send(daemon.SdNotifyStopping) }

// ExtendStart asks systemd for more start-up time, every interval, until
// the returned function is called: for a step such as loading a large
// model from a slow disk, which must not trip TimeoutStartSec.
func (n *Notifier) ExtendStart(interval time.Duration) (done func()) {
	stop := make(chan struct{})
	finished := make(chan struct{})
	extend := fmt.Sprintf("EXTEND_TIMEOUT_USEC=%d", (3 * interval).Microseconds())
	go func() {
		defer close(finished)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			n.send(extend)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(stop)
		<-finished
	}
}

// WatchdogInterval is the unit's WatchdogSec= as systemd passed it to this
// process (WATCHDOG_USEC), or 0 when no watchdog is set.
func WatchdogInterval() time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0
	}
	return d
}

// Watchdog pings systemd's watchdog (WATCHDOG=1) every interval/4 for as
// long as alive reports true, until ctx ends; interval is the unit's
// WatchdogSec=. While alive reports false it withholds the pings, so
// systemd kills and restarts the daemon once interval has passed. It logs
// when the daemon is seen hung and when it recovers.
func (n *Notifier) Watchdog(ctx context.Context, interval time.Duration, alive func() bool) {
	tick := time.NewTicker(interval / 4)
	defer tick.Stop()
	hung := false
	for {
		switch ok := alive(); {
		case ok:
			n.send(daemon.SdNotifyWatchdog)
			if hung {
				n.log.Info("progress again; watchdog pings resumed")
			}
			hung = false
		case !hung:
			hung = true
			n.log.Error("no progress; withholding watchdog pings so that systemd "+
				"restarts the daemon", "watchdog_s", interval.Seconds())
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
