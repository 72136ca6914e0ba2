// Package doctor checks that a host can run hardened containers: kernel
// features, cgroups, LSMs, the engines' registration of the runtime, the
// policy and the user-namespace ID pool. Each check reads its host facts
// from the paths in Host, so tests run it against a fake tree.
package doctor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/internal/install"
	"github.com/hardened-runtime/hardened/internal/userns"
)

// The status of a Check.
const (
	OK   = "ok"
	Fail = "FAIL"
	Warn = "warn"
	Info = "info"
)

// Check is one line of doctor's report.
type Check struct {
	// Name says what was checked.
	Name string `json:"name"`
	// Status is ok, FAIL, warn or info.
	Status string `json:"status"`
	// Detail is what was found.
	Detail string `json:"detail"`
	// Fix is one line saying how to fix a failed or warned check.
	Fix string `json:"fix,omitempty"`
}

// Host is what doctor reads from the host, as paths, so that the
// checks are tested against a fake tree.
type Host struct {
	ProcSys          string // /proc/sys
	SubUID           string // /etc/subuid
	SubGID           string // /etc/subgid
	DockerConfig     string // /etc/docker/daemon.json
	ContainerdConfig string // /etc/containerd/config.toml
	Self             string // this binary, resolved
	Registry         string // the ID ranges in use (idmap.RegistryDir)
}

// HostPaths is the real host, for the binary at self.
func HostPaths(self string) Host {
	return Host{ProcSys: "/proc/sys", SubUID: userns.SubUIDFile, SubGID: userns.SubGIDFile,
		DockerConfig: install.DefaultDockerConfig, ContainerdConfig: install.DefaultContainerdConfig, Self: self,
		Registry: idmap.RegistryDir}
}

// Run runs every check. pol is nil when the policy at polPath did not
// load (polErr says why): the default policy is checked against then.
func Run(h Host, pol *hardening.Policy, polPath string, polErr error) []Check {
	var out []Check
	out = append(out, checkPolicy(pol, polPath, polErr))
	if pol == nil {
		pol = hardening.DefaultPolicy()
	}
	out = append(out, checkUserns(h, pol))
	out = append(out, checkSeccomp())
	out = append(out, checkIDMapped(pol)...)
	out = append(out, checkCgroups())
	out = append(out, checkLSMs())
	out = append(out, checkDockerRegistration(h))
	out = append(out, checkContainerdRegistration(h))
	out = append(out, checkPool(h, pol)...)
	return out
}

func checkPolicy(pol *hardening.Policy, path string, err error) Check {
	if err != nil {
		return Check{Name: "policy", Status: Fail, Detail: err.Error(), Fix: "correct the key named above in " + path + ", then run: hardened policy"}
	}
	where := path
	if _, err := os.Stat(path); err != nil {
		where = path + " absent, the built-in default"
	}
	return Check{Name: "policy", Status: OK, Detail: fmt.Sprintf("%s: mode %s, level %s", where, pol.Mode, pol.Level)}
}

func readInt(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

func checkUserns(h Host, pol *hardening.Policy) Check {
	c := Check{Name: "user namespaces"}
	n, err := readInt(filepath.Join(h.ProcSys, "user/max_user_namespaces"))
	switch {
	case err != nil:
		c.Status, c.Detail = Fail, "the kernel has no user namespaces: "+err.Error()
		c.Fix = "use a kernel built with CONFIG_USER_NS, or set \"userNamespace\": {\"enabled\": false}"
	case n == 0:
		c.Status, c.Detail = Fail, "user.max_user_namespaces is 0"
		c.Fix = "sysctl -w user.max_user_namespaces=15000 (and in /etc/sysctl.d)"
	default:
		c.Status, c.Detail = OK, fmt.Sprintf("user.max_user_namespaces %d", n)
	}
	if !pol.UserNamespace.Enabled && c.Status == Fail {
		c.Status = Info
		c.Detail += " (the policy does not use them)"
	}
	return c
}

func checkSeccomp() Check {
	if err := unix.Prctl(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		return Check{Name: "seccomp", Status: Fail, Detail: "prctl(PR_GET_SECCOMP): " + err.Error(), Fix: "use a kernel built with CONFIG_SECCOMP_FILTER"}
	}
	actions, _ := os.ReadFile("/proc/sys/kernel/seccomp/actions_avail")
	return Check{Name: "seccomp", Status: OK, Detail: "filters available: " + strings.TrimSpace(string(actions))}
}

// idmapDirs are where engines keep what hardened idmaps.
func idmapDirs() []string {
	return []string{"/var/lib/docker", "/var/lib/containerd", "/var/lib/kubelet/pods", "/run/hardened"}
}

// checkIDMapped probes, on each filesystem in use, whether an idmapped
// mount can be made: a detached clone (open_tree) given a mapping
// (mount_setattr), never attached and so never visible.
func checkIDMapped(pol *hardening.Policy) []Check {
	if !idmap.KernelHasMountSetattr() {
		return []Check{{Name: "mount_setattr", Status: Fail, Detail: "the kernel lacks mount_setattr(2) (Linux 5.12)",
			Fix: "use Linux 5.12 or later, or set \"userNamespace\": {\"enabled\": false}"}}
	}
	out := []Check{{Name: "mount_setattr", Status: OK, Detail: "present"}}
	if !pol.UserNamespace.Enabled {
		return out
	}
	ns, err := idmap.UsernsFile(idmap.Mapping{Host: idmap.Range{Start: idmap.BuiltinPool()[0].Start, Size: 65536}})
	if err != nil {
		return append(out, Check{Name: "idmapped mounts", Status: Fail, Detail: err.Error(), Fix: "check that user namespaces can be created (user.max_user_namespaces)"})
	}
	defer ns.Close()
	for _, dir := range idmapDirs() {
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		name := "idmapped mounts on " + dir
		fs := filesystemName(dir)
		fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err != nil {
			out = append(out, Check{Name: name, Status: Fail, Detail: fs + ": open_tree: " + err.Error(), Fix: "run doctor as root"})
			continue
		}
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns.Fd())}
		err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr)
		unix.Close(fd)
		switch {
		case err == nil:
			out = append(out, Check{Name: name, Status: OK, Detail: fs})
		case fs == "overlay":
			out = append(out, Check{Name: name, Status: Info, Detail: "overlay: not idmappable itself; hardened rebuilds overlays from their idmapped layers"})
		default:
			out = append(out, Check{Name: name, Status: Fail, Detail: fs + ": mount_setattr(MOUNT_ATTR_IDMAP): " + err.Error(),
				Fix: "keep " + dir + " on a filesystem that supports idmapped mounts (ext4, xfs, btrfs, tmpfs on Linux 6.3+), or set \"userNamespace\": {\"enabled\": false}"})
		}
	}
	return out
}

// filesystemName names the filesystem of path by its magic number.
func filesystemName(path string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return "unknown"
	}
	switch st.Type {
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlay"
	case 0x2fc12fc1:
		return "zfs"
	}
	return fmt.Sprintf("filesystem 0x%x", st.Type)
}

func checkCgroups() Check {
	var st unix.Statfs_t
	version := "v1"
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		version = "v2"
	}
	driver := "cgroupfs"
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		driver = "systemd (systemd is init: engines should use --systemd-cgroup / native.cgroupdriver=systemd)"
	}
	return Check{Name: "cgroups", Status: Info, Detail: version + ", driver " + driver}
}

func checkLSMs() Check {
	var on []string
	if b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err == nil && strings.TrimSpace(string(b)) == "Y" {
		on = append(on, "AppArmor")
	}
	if b, err := os.ReadFile("/sys/fs/selinux/enforce"); err == nil {
		mode := "permissive"
		if strings.TrimSpace(string(b)) == "1" {
			mode = "enforcing"
		}
		on = append(on, "SELinux ("+mode+")")
	}
	if len(on) == 0 {
		return Check{Name: "LSM", Status: Info, Detail: "neither AppArmor nor SELinux is on (hardened does not need them)"}
	}
	return Check{Name: "LSM", Status: Info, Detail: strings.Join(on, ", ")}
}

// checkDockerRegistration looks for a runtime in daemon.json whose path
// is this binary.
func checkDockerRegistration(h Host) Check {
	c := Check{Name: "Docker"}
	data, err := os.ReadFile(h.DockerConfig)
	if os.IsNotExist(err) {
		if _, err := exec.LookPath("dockerd"); err != nil {
			c.Status, c.Detail = Info, "not installed"
			return c
		}
		data = []byte("{}")
	} else if err != nil {
		c.Status, c.Detail, c.Fix = Fail, err.Error(), "make "+h.DockerConfig+" readable"
		return c
	}
	var cfg struct {
		Runtimes map[string]struct {
			Path string `json:"path"`
		} `json:"runtimes"`
		Default string `json:"default-runtime"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		c.Status, c.Detail, c.Fix = Fail, h.DockerConfig+": "+err.Error(), "repair "+h.DockerConfig+" (dockerd does not start with it either)"
		return c
	}
	var names []string
	for name, rt := range cfg.Runtimes {
		if samePath(rt.Path, h.Self) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		c.Status, c.Detail, c.Fix = Fail, h.DockerConfig+" names no runtime at "+h.Self, "hardened install docker"
		return c
	}
	c.Status, c.Detail = OK, fmt.Sprintf("%s: runtimes %s (default-runtime %q)", h.DockerConfig, strings.Join(names, ", "), cfg.Default)
	return c
}

// checkContainerdRegistration looks for this binary as a BinaryName in
// config.toml.
func checkContainerdRegistration(h Host) Check {
	c := Check{Name: "containerd"}
	f, err := os.Open(h.ContainerdConfig)
	if os.IsNotExist(err) {
		if _, err := exec.LookPath("containerd"); err != nil {
			c.Status, c.Detail = Info, "not installed"
			return c
		}
		c.Status, c.Detail, c.Fix = Warn, "no "+h.ContainerdConfig, "hardened install containerd && systemctl restart containerd"
		return c
	}
	if err != nil {
		c.Status, c.Detail, c.Fix = Fail, err.Error(), "make "+h.ContainerdConfig+" readable"
		return c
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && strings.TrimSpace(k) == "BinaryName" && samePath(strings.Trim(strings.TrimSpace(v), `"'`), h.Self) {
			c.Status, c.Detail = OK, h.ContainerdConfig+": a runtime's BinaryName is "+h.Self
			return c
		}
	}
	c.Status, c.Detail, c.Fix = Warn, h.ContainerdConfig+" has no runtime with BinaryName "+h.Self, "hardened install containerd && systemctl restart containerd"
	return c
}

func samePath(a, b string) bool {
	if a == b {
		return true
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

// checkPool reports the user-namespace pool, how much of it is taken,
// and overlaps with other users' subordinate IDs.
func checkPool(h Host, pol *hardening.Policy) []Check {
	if !pol.UserNamespace.Enabled {
		return []Check{{Name: "ID pool", Status: Info, Detail: "user namespaces off in the policy"}}
	}
	var explicit []idmap.Range
	if pol.UserNamespace.Pool != nil {
		explicit = []idmap.Range{*pol.UserNamespace.Pool}
	}
	pool, source, err := idmap.ResolvePool(explicit, h.SubUID, h.SubGID, pol.UserNamespace.SubIDUser)
	if err != nil {
		return []Check{{Name: "ID pool", Status: Fail, Detail: err.Error(), Fix: "give user " + pol.UserNamespace.SubIDUser + " the same ranges in /etc/subuid and /etc/subgid, or set \"userNamespace\": {\"pool\": ...}"}}
	}
	// The engines' remap ranges are kept out of the pool (userns.idPool).
	remap, err := userns.RemapRanges(pol.UserNamespace, h.SubUID, h.SubGID)
	if err != nil {
		return []Check{{Name: "ID pool", Status: Fail, Detail: err.Error(), Fix: "repair " + h.SubUID + " and " + h.SubGID}}
	}
	pool = idmap.Subtract(pool, remap)
	if len(pool) == 0 {
		return []Check{{Name: "ID pool", Status: Fail, Detail: "the pool lies wholly in the remap ranges of \"remapSubidUsers\"",
			Fix: "give the remap users and the pool different IDs in /etc/subuid and /etc/subgid, or set \"userNamespace\": {\"pool\": ...}"}}
	}
	size := uint64(pol.UserNamespace.RangeSize)
	var total uint64
	for _, r := range pool {
		total += uint64(r.Size) / size
	}
	used, reserved := 0, 0
	registry := idmap.NewHostAllocator(pool, pol.UserNamespace.RangeSize)
	registry.Dir = h.Registry
	if entries, err := registry.Entries(); err == nil {
		// Reservations (a caller's mapping, a namespace joined, an
		// engine's shared remap range) take nothing from the pool.
		for _, e := range entries {
			if e.Reserved || e.Shares != "" {
				reserved++
			} else {
				used++
			}
		}
	}
	var ranges []string
	for _, r := range pool {
		ranges = append(ranges, r.String())
	}
	detail := fmt.Sprintf("%s (%s): %d ranges of %d, %d in use, %d free", strings.Join(ranges, ", "), source, total, size, used, total-uint64(min(uint64(used), total)))
	if reserved > 0 {
		detail += fmt.Sprintf("; %d containers on callers' or engines' own mappings", reserved)
	}
	out := []Check{{Name: "ID pool", Status: OK, Detail: detail}}
	if total-uint64(min(uint64(used), total)) == 0 {
		out[0].Status, out[0].Fix = Fail, "delete stopped containers, or widen the pool (\"userNamespace\": {\"pool\": ...})"
	}
	others, err := subIDOwners(h.SubUID)
	if err != nil {
		return out
	}
	out = append(out, checkRemapRanges(h, pol, others)...)
	for _, o := range others {
		if o.user == pol.UserNamespace.SubIDUser && source == idmap.SourceSubID {
			continue
		}
		if slices.Contains(pol.UserNamespace.RemapSubIDUsers, o.user) {
			// An engine's remap range: cut out of the pool above.
			continue
		}
		for _, r := range pool {
			if r.Overlaps(o.r) {
				out = append(out, Check{Name: "ID pool overlap", Status: Fail,
					Detail: fmt.Sprintf("pool %s overlaps %s's subordinate IDs %s in %s: their containers and ours could share host IDs", r, o.user, o.r, h.SubUID),
					Fix:    fmt.Sprintf("give user %s its own entries in /etc/subuid and /etc/subgid (hardened's pool then comes from them), or set \"userNamespace\": {\"pool\": ...} outside %s", pol.UserNamespace.SubIDUser, o.r)})
			}
		}
	}
	return out
}

// checkRemapRanges reports the engines' remap ranges ("remapSubidUsers"):
// each user's subordinate IDs, shared by that engine's containers, and
// any overlap with the IDs of another user that is not the pool's.
func checkRemapRanges(h Host, pol *hardening.Policy, owners []subIDOwner) []Check {
	var out []Check
	for _, user := range pol.UserNamespace.RemapSubIDUsers {
		rs, _, err := idmap.ResolvePool(nil, h.SubUID, h.SubGID, user)
		var mine []idmap.Range
		for _, o := range owners {
			if o.user == user {
				mine = append(mine, o.r)
			}
		}
		if err != nil || len(mine) == 0 {
			detail := fmt.Sprintf("\"remapSubidUsers\" names %s, which has no IDs in both %s and %s: its engine's containers get ranges of their own (and dockerd's read-write cgroup mount is refused)", user, h.SubUID, h.SubGID)
			if err != nil {
				detail = err.Error()
			}
			out = append(out, Check{Name: "engine remap range", Status: Warn, Detail: detail,
				Fix: fmt.Sprintf("run dockerd with --userns-remap=%s (it writes dockremap's entries itself) or give %s the same entries in %s and %s", user, user, h.SubUID, h.SubGID)})
			continue
		}
		var names []string
		for _, r := range rs {
			names = append(names, r.String())
		}
		out = append(out, Check{Name: "engine remap range", Status: Info,
			Detail: fmt.Sprintf("%s's subordinate IDs %s: one range shared by the engine's containers (dockerd --userns-remap), kept out of the pool", user, strings.Join(names, ", "))})
		for _, o := range owners {
			if o.user == user || slices.Contains(pol.UserNamespace.RemapSubIDUsers, o.user) || (o.user == pol.UserNamespace.SubIDUser && pol.UserNamespace.Pool == nil) {
				continue
			}
			for _, r := range mine {
				if r.Overlaps(o.r) {
					out = append(out, Check{Name: "engine remap range overlap", Status: Fail,
						Detail: fmt.Sprintf("%s's subordinate IDs %s overlap %s's %s in %s: their containers and the engine's could share host IDs", user, r, o.user, o.r, h.SubUID),
						Fix:    fmt.Sprintf("give %s and %s disjoint entries in %s and %s", user, o.user, h.SubUID, h.SubGID)})
				}
			}
		}
	}
	return out
}

type subIDOwner struct {
	user string
	r    idmap.Range
}

// subIDOwners reads every entry of a subuid file.
func subIDOwners(path string) ([]subIDOwner, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []subIDOwner
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(parts) != 3 || strings.HasPrefix(parts[0], "#") {
			continue
		}
		start, err1 := strconv.ParseUint(parts[1], 10, 32)
		n, err2 := strconv.ParseUint(parts[2], 10, 32)
		if err1 != nil || err2 != nil || n == 0 {
			continue
		}
		out = append(out, subIDOwner{user: parts[0], r: idmap.Range{Start: uint32(start), Size: uint32(n)}})
	}
	return out, sc.Err()
}

// Write prints the checks as a table (with each fix below its check) or,
// with format "json", as a JSON array.
func Write(w io.Writer, format string, checks []Check) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(checks)
	}
	tw := tabwriter.NewWriter(w, 1, 8, 2, ' ', 0)
	for _, c := range checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Status, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(tw, "\t\tfix: %s\n", c.Fix)
		}
	}
	return tw.Flush()
}
