package shim

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/internal/audit"
	"github.com/hardened-runtime/hardened/internal/userns"
)

func pauseCommand() *cli.Command {
	return &cli.Command{
		Name:      "pause",
		Usage:     "suspend every process of a container",
		ArgsUsage: "<container-id>",
		Description: `The pause command freezes all processes of a container (cgroup freezer).
"hardened resume" thaws them.`,
		Action: func(c *cli.Context) error {
			return freezeAction(c, "pause", (*libcontainer.Container).Pause)
		},
	}
}

func resumeCommand() *cli.Command {
	return &cli.Command{
		Name:        "resume",
		Usage:       "resume the processes of a paused container",
		ArgsUsage:   "<container-id>",
		Description: `The resume command thaws all processes of a container paused by "hardened pause".`,
		Action: func(c *cli.Context) error {
			return freezeAction(c, "resume", (*libcontainer.Container).Resume)
		},
	}
}

// freezeAction runs pause or resume on the container named by the single
// argument. libcontainer's ErrNotRunning and ErrNotPaused stay in the chain.
func freezeAction(c *cli.Context, verb string, op func(*libcontainer.Container) error) error {
	if err := checkArgs(c, 1, 1); err != nil {
		return err
	}
	ct, err := loadContainer(c)
	if err != nil {
		return err
	}
	root, err := stateRoot(c)
	if err != nil {
		return err
	}
	// The engine's path shows the container's layer at rest while it is
	// frozen (internal/userns/pause.go); neither way does a failure keep
	// the container from being frozen or thawed.
	if verb == "resume" {
		if err := userns.ShowLiveLayer(root, ct.ID()); err != nil {
			warnPauseView(c, ct, root, verb, err)
		}
	}
	if err := op(ct); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("container %s: %s (is the container's cgroup writable by this user?): %w", ct.ID(), verb, err)
		}
		return fmt.Errorf("container %s: %s: %w", ct.ID(), verb, err)
	}
	if verb == "pause" {
		if err := userns.ShowLayerAtRest(root, ct.ID()); err != nil {
			warnPauseView(c, ct, root, verb, err)
		}
	}
	return nil
}

// warnPauseView reports that pause or resume (verb) of ct could not
// change the engine's view of its layer (err): on stderr and in the
// runtime's log, and in the audit log, which outlives the container (a
// layer too large to shift at pause means docker commit records host IDs).
func warnPauseView(c *cli.Context, ct *libcontainer.Container, root, verb string, err error) {
	logrus.Warnf("container %s: %v", ct.ID(), err)
	fmt.Fprintf(c.App.ErrWriter, "hardened: warning: container %s: %v\n", ct.ID(), err)
	pol, _, perr := containerPolicy(c, ct)
	if perr != nil {
		logrus.Warn(perr)
		return
	}
	rec := containerRecord(ct, root, pol, audit.EventPauseView)
	rec.Warnings = []hardening.Note{{Rule: "pause-view", Message: verb + ": " + err.Error()}}
	writeRecord(pol, &rec)
}
