package shim

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/internal/learn"
)

func profileCommand() *cli.Command {
	return &cli.Command{
		Name:  "profile",
		Usage: "list, show, export, compare, widen or delete learned system-call profiles",
		Description: `Learned profiles record the system calls of the containers the policy's
"learn" key selects (mode learn), one profile per workload key, in
/var/lib/hardened/profiles (or $HARDENED_PROFILES_DIR). Under mode enforce a
container's seccomp filter is narrowed to its profile; a call outside it fails
with EPERM and is written to the audit record (event "syscall-denied").

  hardened profile list
  hardened profile show nginx
  hardened profile export nginx > nginx-seccomp.json   (docker run --security-opt seccomp=...)
  hardened profile diff nginx nginx-canary
  hardened profile allow nginx --from-audit /var/log/hardened/audit.log
  hardened profile delete nginx`,
		Subcommands: []*cli.Command{
			profileListCommand(),
			profileShowCommand(),
			profileExportCommand(),
			profileDiffCommand(),
			profileAllowCommand(),
			profileDeleteCommand(),
		},
	}
}

func formatFlag() cli.Flag {
	return &cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "text", Usage: "text or json"}
}

// loadProfileArgs checks that the command has n arguments, the keys of
// learned profiles, and loads the profiles in that order.
func loadProfileArgs(c *cli.Context, n int) ([]*learn.Profile, error) {
	if err := checkArgs(c, n, n); err != nil {
		return nil, err
	}
	ps := make([]*learn.Profile, n)
	for i := range ps {
		p, err := learn.DefaultStore().MustLoad(c.Args().Get(i))
		if err != nil {
			return nil, err
		}
		ps[i] = p
	}
	return ps, nil
}

func profileListCommand() *cli.Command {
	return &cli.Command{
		Name:      "list",
		Usage:     "list the learned profiles",
		ArgsUsage: " ",
		Flags:     []cli.Flag{formatFlag()},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 0, 0); err != nil {
				return err
			}
			store := learn.DefaultStore()
			keys, err := store.Keys()
			if err != nil {
				return err
			}
			type row struct {
				Key      string `json:"key"`
				Runs     int    `json:"runs"`
				Syscalls int    `json:"syscalls"`
				Updated  string `json:"updated"`
				Error    string `json:"error,omitempty"`
			}
			rows := make([]row, 0, len(keys))
			for _, k := range keys {
				p, err := store.Load(k)
				if err != nil {
					rows = append(rows, row{Key: k, Error: err.Error()})
					continue
				}
				rows = append(rows, row{Key: k, Runs: p.Runs, Syscalls: len(p.Syscalls), Updated: p.Updated.Format("2006-01-02T15:04:05Z")})
			}
			if c.String("format") == "json" {
				return writeJSON(c.App.Writer, rows, "")
			}
			w := tabwriter.NewWriter(c.App.Writer, 1, 8, 2, ' ', 0)
			fmt.Fprintln(w, "KEY\tRUNS\tSYSCALLS\tUPDATED")
			for _, r := range rows {
				if r.Error != "" {
					fmt.Fprintf(w, "%s\t-\t-\t%s\n", r.Key, r.Error)
					continue
				}
				fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", r.Key, r.Runs, r.Syscalls, r.Updated)
			}
			return w.Flush()
		},
	}
}

func profileShowCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show a learned profile: its system calls and how it compares with the policy's and Docker's",
		ArgsUsage: "<key>",
		Flags:     []cli.Flag{formatFlag()},
		Action: func(c *cli.Context) error {
			ps, err := loadProfileArgs(c, 1)
			if err != nil {
				return err
			}
			p := ps[0]
			if c.String("format") == "json" {
				return writeJSON(c.App.Writer, p, "  ")
			}
			pol, _, err := loadPolicy(c)
			if err != nil {
				return err
			}
			enforced, policyNames, dockerNames, err := learn.Counts(p, pol)
			if err != nil {
				return err
			}
			w := c.App.Writer
			fmt.Fprintf(w, "profile %s: %d system calls seen in %d runs, updated %s\n", p.Key, len(p.Syscalls), p.Runs, p.Updated.Format("2006-01-02T15:04:05Z"))
			fmt.Fprintf(w, "enforced, it allows %d system calls; the policy's profile allows %d, Docker's default %d (%.0f%%)\n",
				enforced, policyNames, dockerNames, 100*float64(enforced)/float64(max(dockerNames, 1)))
			for _, n := range p.Names() {
				fmt.Fprint(w, n)
				use := p.Syscalls[n]
				for _, i := range slices.Sorted(maps.Keys(use.Args)) {
					vals := make([]string, 0, len(use.Args[i]))
					for _, v := range use.Args[i] {
						vals = append(vals, "0x"+strconv.FormatUint(v, 16))
					}
					fmt.Fprintf(w, " arg%d=%s", i, strings.Join(vals, ","))
				}
				for _, i := range use.AnyArgs {
					fmt.Fprintf(w, " arg%d=any", i)
				}
				fmt.Fprintln(w)
			}
			return nil
		},
	}
}

func profileExportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "print a learned profile as a Docker/Kubernetes seccomp profile (JSON)",
		ArgsUsage: "<key>",
		Description: `The export is the policy's seccomp profile narrowed to the learned system
calls: what enforce gives the container, with the unlearned calls denied by the
default action. Docker takes it with --security-opt seccomp=<file>, Kubernetes
as a Localhost seccompProfile.`,
		Action: func(c *cli.Context) error {
			ps, err := loadProfileArgs(c, 1)
			if err != nil {
				return err
			}
			p := ps[0]
			pol, _, err := loadPolicy(c)
			if err != nil {
				return err
			}
			base, err := learn.PolicyProfile(pol)
			if err != nil {
				return err
			}
			return writeJSON(c.App.Writer, learn.Export(p, base), "  ")
		},
	}
}

func profileDiffCommand() *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "compare two learned profiles: calls only the first (-) or only the second (+) has",
		ArgsUsage: "<key> <other-key>",
		Action: func(c *cli.Context) error {
			ps, err := loadProfileArgs(c, 2)
			if err != nil {
				return err
			}
			a, b := ps[0], ps[1]
			for _, n := range a.Names() {
				if _, ok := b.Syscalls[n]; !ok {
					fmt.Fprintln(c.App.Writer, "- "+n)
				}
			}
			for _, n := range b.Names() {
				if _, ok := a.Syscalls[n]; !ok {
					fmt.Fprintln(c.App.Writer, "+ "+n)
				}
			}
			return nil
		},
	}
}

func profileAllowCommand() *cli.Command {
	return &cli.Command{
		Name:      "allow",
		Usage:     "widen a learned profile by system calls, named or taken from the audit record's denials",
		ArgsUsage: "<key> [syscall...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from-audit", Usage: "add every system call the audit `file` records as denied for this profile"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, -1); err != nil {
				return err
			}
			key := c.Args().First()
			names := c.Args().Slice()[1:]
			if f := c.String("from-audit"); f != "" {
				denied, err := learn.AuditDenials(f, key)
				if err != nil {
					return err
				}
				names = append(names, denied...)
			}
			if len(names) == 0 {
				return fmt.Errorf("profile %s: no system call to allow (name some, or --from-audit)", key)
			}
			add := learn.NewProfile(key)
			for _, n := range names {
				if !learn.ValidSyscallName(n) {
					return fmt.Errorf("profile %s: %q is not a system call name", key, n)
				}
				add.Add(n, nil, [6]uint64{})
			}
			if err := learn.DefaultStore().Update(key, func(p *learn.Profile) error {
				if len(p.Syscalls) == 0 {
					return fmt.Errorf("learned profile %s: %w (learn it first)", key, os.ErrNotExist)
				}
				p.Merge(add)
				return nil
			}); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "profile %s: allowed %s\n", key, strings.Join(add.Names(), " "))
			return nil
		},
	}
}

func profileDeleteCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete learned profiles",
		ArgsUsage: "<key>...",
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, -1); err != nil {
				return err
			}
			store := learn.DefaultStore()
			var errs []error
			for _, k := range c.Args().Slice() {
				errs = append(errs, store.Delete(k))
			}
			return errors.Join(errs...)
		},
	}
}
