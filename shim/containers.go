package shim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/internal/audit"
	"github.com/hardened-runtime/hardened/spec"
)

// Where engines keep their runtimes' state roots. Docker passes
// --root <exec-root>/runtime-<name>/moby, containerd's runc shim
// --root /run/containerd/<runtime>/<namespace>.
const (
	dockerRootsGlob     = "/run/docker/runtime-*/moby"
	containerdRootsGlob = "/run/containerd/*/*"
)

// containersCommand lists the containers hardened runs on this host, with
// what the policy did to each.
//
// `ps` keeps runc's meaning (`ps ID` lists a container's processes;
// containerd's shim calls `ps --format json ID`); `ps` without an ID,
// which runc refuses, lists containers as this command does.
func containersCommand() *cli.Command {
	return &cli.Command{
		Name:      "containers",
		Usage:     "list the containers hardened runs, in every engine, with their policy",
		ArgsUsage: " ",
		Description: `The containers command (also "hardened ps" without a container ID) finds the
state roots of Docker (/run/docker/runtime-*/moby), containerd (every
namespace under /run/containerd/<runtime>/) and hardened's own (--root),
and lists every container created by hardened there: engine, name, image
and pod, status, policy mode and level, the user namespace's host ID
range, capabilities, seccomp, read-only rootfs, and how many changes,
refusals (audit mode) and warnings its record holds. With --root given,
only that root is listed. "hardened inspect ID" prints a container's full
record.

EXAMPLE:
       # hardened containers --format json | jq '.[] | select(.mode != "enforce")'`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "output format: table or json"},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "also list stopped containers"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 0, 0); err != nil {
				return err
			}
			return listHardenedContainers(c, c.String("format"), c.Bool("all"))
		},
	}
}

// containerSummary is one line of `containers`.
type containerSummary struct {
	ID     string `json:"id"`
	Root   string `json:"root"`
	Status string `json:"status"`
	Pid    int    `json:"pid"`
	audit.Workload
	Mode           string   `json:"mode"`
	Level          string   `json:"level"`
	UserNamespace  string   `json:"userNamespace"`
	Capabilities   []string `json:"capabilities"`
	Seccomp        string   `json:"seccomp"`
	ReadonlyRootfs bool     `json:"readonlyRootfs"`
	Changes        int      `json:"changes"`
	Refusals       int      `json:"refusals"`
	Warnings       int      `json:"warnings"`
}

// stateRoots returns the roots to look in: --root alone when given,
// else hardened's default, Docker's and containerd's.
func stateRoots(c *cli.Context) []string {
	if c.IsSet("root") {
		if r, err := filepath.Abs(c.String("root")); err == nil {
			return []string{r}
		}
	}
	roots := []string{defaultRoot}
	for _, g := range []string{dockerRootsGlob, containerdRootsGlob} {
		m, _ := filepath.Glob(g)
		for _, r := range m {
			if st, err := os.Stat(r); err == nil && st.IsDir() && !slices.Contains(roots, r) {
				roots = append(roots, r)
			}
		}
	}
	return roots
}

// hardenedContainers returns the IDs of the containers with a record in
// root.
func hardenedContainers(root string) []string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var ids []string
	for _, e := range entries {
		if !e.IsDir() || spec.ValidateID(e.Name()) != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, e.Name(), recordFile)); err == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

// summarize loads container id of root with its record.
func summarize(root, id string) (containerSummary, error) {
	rec, err := loadRecord(root, id)
	if err != nil || rec == nil {
		return containerSummary{}, fmt.Errorf("container %s: record: %w", id, err)
	}
	s := containerSummary{
		ID: id, Root: root, Workload: rec.Workload, Mode: rec.Mode, Level: rec.Level,
		UserNamespace: rec.UserNamespace, Changes: len(rec.Changes), Refusals: len(rec.Refusals), Warnings: len(rec.Warnings),
		Status: "unknown", Seccomp: "none", Capabilities: []string{},
	}
	ct, err := libcontainer.Load(root, id)
	if err != nil {
		return s, nil
	}
	if st, err := ct.Status(); err == nil {
		s.Status = st.String()
	}
	if state, err := ct.State(); err == nil {
		s.Pid = state.InitProcessPid
	}
	cfg := ct.Config()
	if cfg.Capabilities != nil && cfg.Capabilities.Bounding != nil {
		s.Capabilities = cfg.Capabilities.Bounding
	}
	if cfg.Seccomp != nil {
		s.Seccomp = fmt.Sprintf("%d rules, default %s", len(cfg.Seccomp.Syscalls), seccompActionName(cfg.Seccomp.DefaultAction))
	}
	s.ReadonlyRootfs = cfg.Readonlyfs
	if s.UserNamespace == "" && len(cfg.UIDMappings) > 0 {
		m := cfg.UIDMappings[0]
		s.UserNamespace = fmt.Sprintf("%d-%d", m.HostID, m.HostID+m.Size-1)
	}
	return s, nil
}

func listHardenedContainers(c *cli.Context, format string, all bool) error {
	if format != "table" && format != "json" {
		return fmt.Errorf("--format %q: use table or json", format)
	}
	list := []containerSummary{}
	for _, root := range stateRoots(c) {
		for _, id := range hardenedContainers(root) {
			s, err := summarize(root, id)
			if err != nil {
				fmt.Fprintf(c.App.ErrWriter, "hardened: %s: %v\n", root, err)
				continue
			}
			if !all && s.Status != "running" && s.Status != "created" && s.Status != "paused" {
				continue
			}
			list = append(list, s)
		}
	}
	if format == "json" {
		return writeJSON(c.App.Writer, list, "")
	}
	return writeContainersTable(c.App.Writer, list)
}

func writeContainersTable(out io.Writer, list []containerSummary) error {
	w := tabwriter.NewWriter(out, 1, 8, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tENGINE\tNAME\tIMAGE\tSTATUS\tPOLICY\tUSERNS\tCAPS\tSECCOMP\tRO-ROOT\tCHANGES\tREFUSED\tWARNED")
	for _, s := range list {
		name := s.Name
		if s.Pod != "" {
			name = s.Namespace + "/" + s.Pod + "/" + s.Name
		}
		seccomp := "on"
		if s.Seccomp == "none" {
			seccomp = "off"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%t\t%d\t%d\t%d\n",
			short(s.ID), s.Engine, dash(name), dash(s.Image), s.Status, s.Mode+"/"+s.Level, dash(s.UserNamespace),
			capList(s.Capabilities), seccomp, s.ReadonlyRootfs, s.Changes, s.Refusals, s.Warnings)
	}
	return w.Flush()
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// capList shows capabilities without their CAP_ prefix.
func capList(caps []string) string {
	if len(caps) == 0 {
		return "none"
	}
	out := make([]string, len(caps))
	for i, c := range caps {
		out[i] = strings.ToLower(strings.TrimPrefix(c, "CAP_"))
	}
	return strings.Join(out, ",")
}

// inspectCommand prints a container's full record.
func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "print the hardening record of a container, live or gone",
		ArgsUsage: "<container-id>",
		Description: `The inspect command prints, as JSON, the record hardened made when it created
the container: engine, name, image, pod, mode, level, exceptions used, every
change and refusal by rule with its policy key, warnings and notes, with the
container's current status. The container is looked for in the same state
roots as "hardened containers" (an ID prefix of at least 4 characters is
enough when it is unique). For a container that is gone, every record of
that ID in the audit log (auditLog.path of the policy) is printed instead,
one JSON object a line.`,
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 1); err != nil {
				return err
			}
			return inspectContainer(c, c.Args().First())
		},
	}
}

// inspected is what inspect prints for a live container.
type inspected struct {
	Status string `json:"status"`
	Pid    int    `json:"pid"`
	*audit.Record
}

func inspectContainer(c *cli.Context, ref string) error {
	if err := spec.ValidateID(ref); err != nil {
		return err
	}
	type hit struct{ root, id string }
	var hits []hit
	for _, root := range stateRoots(c) {
		for _, id := range hardenedContainers(root) {
			if id == ref || (len(ref) >= 4 && strings.HasPrefix(id, ref)) {
				hits = append(hits, hit{root, id})
			}
		}
	}
	if len(hits) > 1 {
		var names []string
		for _, h := range hits {
			names = append(names, filepath.Join(h.root, h.id))
		}
		return fmt.Errorf("container %s: ambiguous, matches %s", ref, strings.Join(names, ", "))
	}
	if len(hits) == 1 {
		rec, err := loadRecord(hits[0].root, hits[0].id)
		if err != nil {
			return fmt.Errorf("container %s: %w", ref, err)
		}
		s, _ := summarize(hits[0].root, hits[0].id)
		return writeJSON(c.App.Writer, inspected{Status: s.Status, Pid: s.Pid, Record: rec}, "  ")
	}
	pol, _, err := loadPolicy(c)
	if err != nil {
		return err
	}
	path := auditLog(pol).Path
	n, err := grepAuditLog(c.App.Writer, path, ref)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("container %s: %w, and no record of it in %s", ref, libcontainer.ErrNotExist, path)
	}
	return nil
}

// grepAuditLog copies the records of container ID (or ID prefix) from
// the audit log at path and its rotated files, oldest first.
func grepAuditLog(out io.Writer, path, ref string) (int, error) {
	if path == "" {
		return 0, nil
	}
	files := []string{}
	for i := 100; i >= 1; i-- {
		if _, err := os.Stat(path + "." + strconv.Itoa(i)); err == nil {
			files = append(files, path+"."+strconv.Itoa(i))
		}
	}
	files = append(files, path)
	n := 0
	for _, name := range files {
		f, err := os.Open(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return n, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var head struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(sc.Bytes(), &head) != nil {
				continue
			}
			if head.ID == ref || (len(ref) >= 4 && strings.HasPrefix(head.ID, ref)) {
				if _, err := fmt.Fprintln(out, sc.Text()); err != nil {
					f.Close()
					return n, err
				}
				n++
			}
		}
		f.Close()
	}
	return n, nil
}

// seccompActionName names a libcontainer seccomp action as config.json does.
func seccompActionName(a configs.Action) string {
	switch a {
	case configs.Kill:
		return "SCMP_ACT_KILL"
	case configs.Errno:
		return "SCMP_ACT_ERRNO"
	case configs.Trap:
		return "SCMP_ACT_TRAP"
	case configs.Allow:
		return "SCMP_ACT_ALLOW"
	case configs.Trace:
		return "SCMP_ACT_TRACE"
	case configs.Log:
		return "SCMP_ACT_LOG"
	case configs.Notify:
		return "SCMP_ACT_NOTIFY"
	case configs.KillThread:
		return "SCMP_ACT_KILL_THREAD"
	case configs.KillProcess:
		return "SCMP_ACT_KILL_PROCESS"
	}
	return strconv.Itoa(int(a))
}
