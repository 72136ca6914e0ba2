package shim

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/intelrdt"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/internal/resources"
	"github.com/hardened-runtime/hardened/spec"
)

func updateCommand() *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "change the resource limits of a running container",
		ArgsUsage: "<container-id>",
		Description: `The update command changes the cgroup limits of a running or paused
container. The new values come either from a runtime-spec LinuxResources
JSON document (--resources FILE, or --resources - for standard input, which
is what containerd sends), or from the individual flags. With --resources
the individual flags are ignored. Only the values given change; the rest
stay as they are. Sizes take units: 512m, 1g. The values go through the
container's policy as at create: a pids limit above the policy's
pidsLimit, or "unlimited" (0, -1), is lowered to it; device rules the
policy refuses fail the update.

EXAMPLE:
       # hardened update --memory 256m --pids-limit 100 web1
       # echo '{"memory":{"limit":268435456}}' | hardened update --resources - web1`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "runtime-spec LinuxResources JSON file, or - for standard input"},
			&cli.StringFlag{Name: "memory", Usage: "memory limit in bytes or with a unit (512m); -1 for no limit"},
			&cli.StringFlag{Name: "memory-reservation", Usage: "memory soft limit in bytes or with a unit"},
			&cli.StringFlag{Name: "memory-swap", Usage: "limit of memory plus swap; -1 for unlimited swap"},
			&cli.StringFlag{Name: "kernel-memory", Hidden: true, Usage: "obsolete, ignored"},
			&cli.StringFlag{Name: "kernel-memory-tcp", Hidden: true, Usage: "obsolete, ignored"},
			&cli.StringFlag{Name: "cpu-share", Aliases: []string{"cpu-shares"}, Usage: "CPU shares (weight relative to other containers)"},
			&cli.StringFlag{Name: "cpu-period", Usage: "CFS period in microseconds (0: system default)"},
			&cli.StringFlag{Name: "cpu-quota", Usage: "CFS quota in microseconds per period"},
			&cli.StringFlag{Name: "cpu-burst", Usage: "CFS burst in microseconds per period"},
			&cli.StringFlag{Name: "cpu-rt-period", Usage: "realtime period in microseconds"},
			&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "realtime runtime in microseconds per period"},
			&cli.StringFlag{Name: "cpu-idle", Usage: "1 to make the cgroup SCHED_IDLE, 0 for the default"},
			&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs the container may use (0-3,5)"},
			&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes the container may use"},
			&cli.StringFlag{Name: "pids-limit", Usage: "maximum number of processes (0 or -1: no limit)"},
			&cli.StringFlag{Name: "blkio-weight", Usage: "block IO weight, 10 to 1000"},
			&cli.StringFlag{Name: "l3-cache-schema", Usage: "Intel RDT/CAT L3 cache schema"},
			&cli.StringFlag{Name: "mem-bw-schema", Usage: "Intel RDT/MBA memory bandwidth schema"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 1); err != nil {
				return err
			}
			ct, err := loadContainer(c)
			if err != nil {
				return err
			}
			pol, polPath, err := containerPolicy(c, ct)
			if err != nil {
				return err
			}
			var res *specs.LinuxResources
			if src := c.String("resources"); src != "" {
				res, err = readResourcesFrom(src, c.App.Reader, pol.MaxConfigSize)
			} else {
				res, err = resources.FromFlags(c)
			}
			if err != nil {
				return fmt.Errorf("container %s: %w", ct.ID(), err)
			}
			if err := clampUpdate(ct.ID(), res, pol, polPath); err != nil {
				return err
			}
			cfg := ct.Config()
			// Config shares its Cgroups and IntelRdt with the container,
			// whose Set restores them if applying the new values fails:
			// change copies only.
			cg := *cfg.Cgroups
			cg.Resources = resources.Clone(cfg.Cgroups.Resources)
			cfg.Cgroups = &cg
			for _, w := range resources.Merge(cg.Resources, res) {
				logrus.Warnf("container %s: %s", ct.ID(), w)
			}
			if cfg.IntelRdt, err = updatedIntelRdt(c, cfg.IntelRdt); err != nil {
				return fmt.Errorf("container %s: %w", ct.ID(), err)
			}
			// Device rules cannot be changed by update; re-applying them
			// would undo what device plugins added after create.
			cg.SkipDevices = true
			if err := ct.Set(cfg); err != nil {
				return fmt.Errorf("container %s: update: %w", ct.ID(), err)
			}
			return nil
		},
	}
}

// clampUpdate puts the new values through the container's effective
// policy, as create did (hardening.ClampUpdate): a pids limit above the
// ceiling is lowered (logged as a warning), refused device rules fail the
// update naming the rule and the policy key.
func clampUpdate(id string, res *specs.LinuxResources, pol *hardening.Policy, polPath string) error {
	rep, err := hardening.ClampUpdate(res, pol)
	if errors.Is(err, hardening.ErrRefused) {
		return fmt.Errorf("container %s: update: %w; set these keys in %s", id, err, polPath)
	}
	if err != nil {
		return fmt.Errorf("container %s: update: %w", id, err)
	}
	verb := "lowered"
	if rep.Mode == hardening.ModeAudit {
		verb = "would be lowered (audit)"
		for _, f := range rep.Refusals {
			logrus.Warnf("container %s: update: would be refused (audit): %s (rule %s)", id, f.Reason, f.Rule)
		}
	}
	for _, ch := range rep.Changes {
		logrus.Warnf("container %s: update: %s %s from %s to %s (rule %s, policy %s)", id, ch.Path, verb, ch.Before, ch.After, ch.Rule, polPath)
	}
	return nil
}

// readResourcesFrom decodes a LinuxResources document from a file, or from
// stdin when src is "-", reading at most maxSize bytes. A file must be a
// regular file (spec.ReadRegularFile: a FIFO does not block the update).
func readResourcesFrom(src string, stdin io.Reader, maxSize int64) (*specs.LinuxResources, error) {
	var raw []byte
	var err error
	if src == "-" {
		raw, err = spec.ReadLimited(stdin, "standard input", maxSize)
	} else {
		raw, err = spec.ReadRegularFile(src, maxSize)
	}
	if err != nil {
		return nil, fmt.Errorf("--resources: %w", err)
	}
	res, err := resources.Decode(bytes.NewReader(raw))
	if err != nil {
		if src == "-" {
			return nil, fmt.Errorf("--resources from standard input: %w", err)
		}
		return nil, fmt.Errorf("--resources %s: %w", src, err)
	}
	return res, nil
}

// updatedIntelRdt returns the container's Intel RDT settings with
// --l3-cache-schema and --mem-bw-schema applied. Update cannot add Intel
// RDT to a container created without it.
func updatedIntelRdt(c *cli.Context, rdt *configs.IntelRdt) (*configs.IntelRdt, error) {
	l3, mb := c.String("l3-cache-schema"), c.String("mem-bw-schema")
	if l3 == "" && mb == "" {
		return rdt, nil
	}
	if l3 != "" && !intelrdt.IsCATEnabled() {
		return nil, errors.New("--l3-cache-schema: Intel RDT/CAT is not enabled on this host")
	}
	if mb != "" && !intelrdt.IsMBAEnabled() {
		return nil, errors.New("--mem-bw-schema: Intel RDT/MBA is not enabled on this host")
	}
	if rdt == nil {
		return nil, errors.New("the container was created without Intel RDT settings; update cannot add them")
	}
	out := *rdt
	if l3 != "" {
		out.L3CacheSchema = l3
	}
	if mb != "" {
		out.MemBwSchema = mb
	}
	return &out, nil
}
