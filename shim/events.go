package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/types"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
)

func eventsCommand() *cli.Command {
	return &cli.Command{
		Name:      "events",
		Usage:     "print a container's resource usage and OOM events as JSON",
		ArgsUsage: "<container-id>",
		Description: `The events command prints one JSON object per line: {"type":"stats",...}
with the container's CPU, memory, pids, block I/O, hugetlb and network
statistics every --interval, and {"type":"oom",...} whenever the kernel's OOM
killer acts in the container. It stops when the container stops. With
--stats it prints the statistics once and exits.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "stats", Usage: "print the statistics once and exit"},
			&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "time between two statistics events"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 1); err != nil {
				return err
			}
			interval := c.Duration("interval")
			if interval <= 0 {
				return fmt.Errorf("--interval %s: must be greater than zero", interval)
			}
			ct, err := loadContainer(c)
			if err != nil {
				return err
			}
			if stopped, err := isStopped(ct); err != nil {
				return err
			} else if stopped {
				return fmt.Errorf("container %s: %w", ct.ID(), libcontainer.ErrNotRunning)
			}
			enc := json.NewEncoder(c.App.Writer)
			emit := func(e types.Event) error { return enc.Encode(e) }
			if c.Bool("stats") {
				e, err := statsEvent(ct)
				if err != nil {
					return err
				}
				return emit(e)
			}
			return streamEvents(ct, interval, emit)
		},
	}
}

// streamEvents emits a stats event every interval and an oom event for
// each OOM notification, until the container stops or its cgroup goes.
func streamEvents(ct *libcontainer.Container, interval time.Duration, emit func(types.Event) error) error {
	oom, err := ct.NotifyOOM()
	if err != nil {
		// Without the memory controller there is nothing to wait on; the
		// statistics are still worth having.
		logrus.Warnf("container %s: no OOM notifications: %v", ct.ID(), err)
		oom = nil
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case _, ok := <-oom:
			if !ok {
				// The channel closes when the container's cgroup is removed.
				return nil
			}
			if err := emit(types.Event{Type: "oom", ID: ct.ID()}); err != nil {
				return err
			}
		case <-ticker.C:
			if stopped, err := isStopped(ct); err != nil || stopped {
				return err
			}
			e, err := statsEvent(ct)
			if err != nil {
				// A container on its way out may lose its cgroup between
				// the two calls; the next tick tells.
				logrus.Warn(err)
				continue
			}
			if err := emit(e); err != nil {
				return err
			}
		}
	}
}

func statsEvent(ct *libcontainer.Container) (types.Event, error) {
	s, err := ct.Stats()
	if err != nil {
		return types.Event{}, fmt.Errorf("container %s: stats: %w", ct.ID(), err)
	}
	data := newStatsData(s)
	if data == nil {
		return types.Event{}, fmt.Errorf("container %s: stats: %w", ct.ID(), errNoCgroupStats)
	}
	return types.Event{Type: "stats", ID: ct.ID(), Data: data}, nil
}

var errNoCgroupStats = errors.New("no cgroup statistics")

func isStopped(ct *libcontainer.Container) (bool, error) {
	status, err := ct.Status()
	if err != nil {
		return false, fmt.Errorf("container %s: %w", ct.ID(), err)
	}
	return status == libcontainer.Stopped, nil
}
