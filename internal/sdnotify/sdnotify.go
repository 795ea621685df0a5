// Package sdnotify tells systemd about a daemon's state (sd_notify(3)):
// READY=1 once it serves, STATUS= lines a person can read, STOPPING=1 on
// shutdown. Outside systemd (NOTIFY_SOCKET unset) every call does nothing.
package sdnotify

import (
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
