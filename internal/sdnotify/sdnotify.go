// Package sdnotify tells systemd about a daemon's state (sd_notify(3)):
// READY=1 once it serves, STATUS= lines a person can read, STOPPING=1 on
// shutdown. Outside systemd (NOTIFY_SOCKET unset) every call does nothing.
package sdnotify

import (
	"log/slog"
	"sync"

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
