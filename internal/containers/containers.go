// Package containers finds the containers hardened created on this host,
// in every engine's state root, and summarizes what the policy did to
// each from the record kept beside libcontainer's state.
package containers

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

// Roots returns the state roots to look in: own (hardened's --root),
// then Docker's and containerd's that exist.
func Roots(own string) []string {
	roots := []string{own}
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

// Store is where hardened's containers are found: the state roots, and
// the create record each container's state directory holds.
type Store struct {
	Roots []string
	// RecordFile is the record's name in a container's state directory;
	// a directory without one is not hardened's.
	RecordFile string
	// LoadRecord reads the record of container id of root.
	LoadRecord func(root, id string) (*audit.Record, error)
}

// IDs returns the IDs of the containers with a record in root.
func (s Store) IDs(root string) []string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var ids []string
	for _, e := range entries {
		if !e.IsDir() || spec.ValidateID(e.Name()) != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, e.Name(), s.RecordFile)); err == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

// List summarizes the containers of every root: only the running,
// created and paused ones unless all. A container whose record cannot
// be read is reported to warn and skipped.
func (s Store) List(all bool, warn io.Writer) []Summary {
	list := []Summary{}
	for _, root := range s.Roots {
		for _, id := range s.IDs(root) {
			rec, err := s.LoadRecord(root, id)
			if err != nil || rec == nil {
				fmt.Fprintf(warn, "hardened: %s: container %s: record: %v\n", root, id, err)
				continue
			}
			sum := Summarize(root, id, rec)
			if !all && sum.Status != "running" && sum.Status != "created" && sum.Status != "paused" {
				continue
			}
			list = append(list, sum)
		}
	}
	return list
}

// Location is a container's state root and ID.
type Location struct{ Root, ID string }

// Find returns the containers whose ID is ref or, for a ref of at least
// 4 characters, starts with it.
func (s Store) Find(ref string) []Location {
	var hits []Location
	for _, root := range s.Roots {
		for _, id := range s.IDs(root) {
			if matchesID(id, ref) {
				hits = append(hits, Location{root, id})
			}
		}
	}
	return hits
}

// matchesID reports whether ref names id, whole or as a prefix of at
// least 4 characters.
func matchesID(id, ref string) bool {
	return id == ref || (len(ref) >= 4 && strings.HasPrefix(id, ref))
}

// GrepAuditLog copies the records of container ID (or ID prefix) from
// the audit log at path and its rotated files, oldest first.
func GrepAuditLog(out io.Writer, path, ref string) (int, error) {
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
			if matchesID(head.ID, ref) {
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

// Summary is one line of `hardened containers`: the container, its state
// and what its create record says the policy did.
type Summary struct {
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

// Summarize describes container id of root from its create record and,
// when libcontainer still has it, its state and configuration.
func Summarize(root, id string, rec *audit.Record) Summary {
	s := Summary{
		ID: id, Root: root, Workload: rec.Workload, Mode: rec.Mode, Level: rec.Level,
		UserNamespace: rec.UserNamespace, Changes: len(rec.Changes), Refusals: len(rec.Refusals), Warnings: len(rec.Warnings),
		Status: "unknown", Seccomp: "none", Capabilities: []string{},
	}
	ct, err := libcontainer.Load(root, id)
	if err != nil {
		return s
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
	return s
}

// WriteTable prints the summaries as a table, one container a line.
func WriteTable(out io.Writer, list []Summary) error {
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
