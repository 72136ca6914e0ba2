package shim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/internal/install"
)

// Check outcomes of doctor.
const (
	checkOK   = "ok"
	checkFail = "FAIL"
	checkWarn = "warn"
	checkInfo = "info"
)

// doctorCheck is one line of doctor's report.
type doctorCheck struct {
	// Name says what was checked.
	Name string `json:"name"`
	// Status is ok, FAIL, warn or info.
	Status string `json:"status"`
	// Detail is what was found.
	Detail string `json:"detail"`
	// Fix is one line saying how to fix a failed or warned check.
	Fix string `json:"fix,omitempty"`
}

// doctorHost is what doctor reads from the host, as paths, so that the
// checks are tested against a fake tree.
type doctorHost struct {
	procSys       string // /proc/sys
	subuid        string // /etc/subuid
	subgid        string // /etc/subgid
	dockerConfig  string // /etc/docker/daemon.json
	containerdCfg string // /etc/containerd/config.toml
	self          string // this binary, resolved
}

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:      "doctor",
		Usage:     "check that this host can run hardened containers, with a fix for each problem",
		ArgsUsage: " ",
		Description: `The doctor command checks the kernel features hardened uses (user
namespaces, seccomp, mount_setattr and idmapped mounts on each filesystem
engines keep containers on), the cgroup version and driver, AppArmor and
SELinux, whether Docker and containerd have hardened registered, whether the
policy is valid, and the user-namespace ID pool: how much of it is free and
whether it overlaps the /etc/subuid ranges of other users (kubelet, podman
users, dockremap). Each failed check comes with a one-line fix. The exit
status is 1 when a check failed.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "output format: table or json"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 0, 0); err != nil {
				return err
			}
			format := c.String("format")
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: use table or json", format)
			}
			self, _ := os.Executable()
			if r, err := filepath.EvalSymlinks(self); err == nil {
				self = r
			}
			h := doctorHost{procSys: "/proc/sys", subuid: subUIDFile, subgid: subGIDFile, dockerConfig: install.DefaultDockerConfig, containerdCfg: install.DefaultContainerdConfig, self: self}
			pol, polPath, polErr := loadPolicy(c)
			checks := runDoctor(h, pol, polPath, polErr)
			if err := writeDoctor(c.App.Writer, format, checks); err != nil {
				return err
			}
			for _, ch := range checks {
				if ch.Status == checkFail {
					return exitWith(1)
				}
			}
			return nil
		},
	}
}

// runDoctor runs every check.
func runDoctor(h doctorHost, pol *hardening.Policy, polPath string, polErr error) []doctorCheck {
	var out []doctorCheck
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

func checkPolicy(pol *hardening.Policy, path string, err error) doctorCheck {
	if err != nil {
		return doctorCheck{Name: "policy", Status: checkFail, Detail: err.Error(), Fix: "correct the key named above in " + path + ", then run: hardened policy"}
	}
	where := path
	if _, err := os.Stat(path); err != nil {
		where = path + " absent, the built-in default"
	}
	return doctorCheck{Name: "policy", Status: checkOK, Detail: fmt.Sprintf("%s: mode %s, level %s", where, pol.Mode, pol.Level)}
}

func readInt(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

func checkUserns(h doctorHost, pol *hardening.Policy) doctorCheck {
	c := doctorCheck{Name: "user namespaces"}
	n, err := readInt(filepath.Join(h.procSys, "user/max_user_namespaces"))
	switch {
	case err != nil:
		c.Status, c.Detail = checkFail, "the kernel has no user namespaces: "+err.Error()
		c.Fix = "use a kernel built with CONFIG_USER_NS, or set \"userNamespace\": {\"enabled\": false}"
	case n == 0:
		c.Status, c.Detail = checkFail, "user.max_user_namespaces is 0"
		c.Fix = "sysctl -w user.max_user_namespaces=15000 (and in /etc/sysctl.d)"
	default:
		c.Status, c.Detail = checkOK, fmt.Sprintf("user.max_user_namespaces %d", n)
	}
	if !pol.UserNamespace.Enabled && c.Status == checkFail {
		c.Status = checkInfo
		c.Detail += " (the policy does not use them)"
	}
	return c
}

func checkSeccomp() doctorCheck {
	if err := unix.Prctl(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		return doctorCheck{Name: "seccomp", Status: checkFail, Detail: "prctl(PR_GET_SECCOMP): " + err.Error(), Fix: "use a kernel built with CONFIG_SECCOMP_FILTER"}
	}
	actions, _ := os.ReadFile("/proc/sys/kernel/seccomp/actions_avail")
	return doctorCheck{Name: "seccomp", Status: checkOK, Detail: "filters available: " + strings.TrimSpace(string(actions))}
}

// idmapDirs are where engines keep what hardened idmaps.
func idmapDirs() []string {
	return []string{"/var/lib/docker", "/var/lib/containerd", "/var/lib/kubelet/pods", "/run/hardened"}
}

// checkIDMapped probes, on each filesystem in use, whether an idmapped
// mount can be made: a detached clone (open_tree) given a mapping
// (mount_setattr), never attached and so never visible.
func checkIDMapped(pol *hardening.Policy) []doctorCheck {
	if !kernelHasMountSetattr() {
		return []doctorCheck{{Name: "mount_setattr", Status: checkFail, Detail: "the kernel lacks mount_setattr(2) (Linux 5.12)",
			Fix: "use Linux 5.12 or later, or set \"userNamespace\": {\"enabled\": false}"}}
	}
	out := []doctorCheck{{Name: "mount_setattr", Status: checkOK, Detail: "present"}}
	if !pol.UserNamespace.Enabled {
		return out
	}
	ns, err := idmap.UsernsFile(idmap.Mapping{Host: idmap.Range{Start: idmap.BuiltinPool()[0].Start, Size: 65536}})
	if err != nil {
		return append(out, doctorCheck{Name: "idmapped mounts", Status: checkFail, Detail: err.Error(), Fix: "check that user namespaces can be created (user.max_user_namespaces)"})
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
			out = append(out, doctorCheck{Name: name, Status: checkFail, Detail: fs + ": open_tree: " + err.Error(), Fix: "run doctor as root"})
			continue
		}
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns.Fd())}
		err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr)
		unix.Close(fd)
		switch {
		case err == nil:
			out = append(out, doctorCheck{Name: name, Status: checkOK, Detail: fs})
		case fs == "overlay":
			out = append(out, doctorCheck{Name: name, Status: checkInfo, Detail: "overlay: not idmappable itself; hardened rebuilds overlays from their idmapped layers"})
		default:
			out = append(out, doctorCheck{Name: name, Status: checkFail, Detail: fs + ": mount_setattr(MOUNT_ATTR_IDMAP): " + err.Error(),
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

func checkCgroups() doctorCheck {
	var st unix.Statfs_t
	version := "v1"
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		version = "v2"
	}
	driver := "cgroupfs"
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		driver = "systemd (systemd is init: engines should use --systemd-cgroup / native.cgroupdriver=systemd)"
	}
	return doctorCheck{Name: "cgroups", Status: checkInfo, Detail: version + ", driver " + driver}
}

func checkLSMs() doctorCheck {
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
		return doctorCheck{Name: "LSM", Status: checkInfo, Detail: "neither AppArmor nor SELinux is on (hardened does not need them)"}
	}
	return doctorCheck{Name: "LSM", Status: checkInfo, Detail: strings.Join(on, ", ")}
}

// checkDockerRegistration looks for a runtime in daemon.json whose path
// is this binary.
func checkDockerRegistration(h doctorHost) doctorCheck {
	c := doctorCheck{Name: "Docker"}
	data, err := os.ReadFile(h.dockerConfig)
	if os.IsNotExist(err) {
		if _, err := exec.LookPath("dockerd"); err != nil {
			c.Status, c.Detail = checkInfo, "not installed"
			return c
		}
		data = []byte("{}")
	} else if err != nil {
		c.Status, c.Detail, c.Fix = checkFail, err.Error(), "make "+h.dockerConfig+" readable"
		return c
	}
	var cfg struct {
		Runtimes map[string]struct {
			Path string `json:"path"`
		} `json:"runtimes"`
		Default string `json:"default-runtime"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		c.Status, c.Detail, c.Fix = checkFail, h.dockerConfig+": "+err.Error(), "repair "+h.dockerConfig+" (dockerd does not start with it either)"
		return c
	}
	var names []string
	for name, rt := range cfg.Runtimes {
		if samePath(rt.Path, h.self) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		c.Status, c.Detail, c.Fix = checkFail, h.dockerConfig+" names no runtime at "+h.self, "hardened install docker"
		return c
	}
	c.Status, c.Detail = checkOK, fmt.Sprintf("%s: runtimes %s (default-runtime %q)", h.dockerConfig, strings.Join(names, ", "), cfg.Default)
	return c
}

// checkContainerdRegistration looks for this binary as a BinaryName in
// config.toml.
func checkContainerdRegistration(h doctorHost) doctorCheck {
	c := doctorCheck{Name: "containerd"}
	f, err := os.Open(h.containerdCfg)
	if os.IsNotExist(err) {
		if _, err := exec.LookPath("containerd"); err != nil {
			c.Status, c.Detail = checkInfo, "not installed"
			return c
		}
		c.Status, c.Detail, c.Fix = checkWarn, "no "+h.containerdCfg, "hardened install containerd && systemctl restart containerd"
		return c
	}
	if err != nil {
		c.Status, c.Detail, c.Fix = checkFail, err.Error(), "make "+h.containerdCfg+" readable"
		return c
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && strings.TrimSpace(k) == "BinaryName" && samePath(strings.Trim(strings.TrimSpace(v), `"'`), h.self) {
			c.Status, c.Detail = checkOK, h.containerdCfg+": a runtime's BinaryName is "+h.self
			return c
		}
	}
	c.Status, c.Detail, c.Fix = checkWarn, h.containerdCfg+" has no runtime with BinaryName "+h.self, "hardened install containerd && systemctl restart containerd"
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
func checkPool(h doctorHost, pol *hardening.Policy) []doctorCheck {
	if !pol.UserNamespace.Enabled {
		return []doctorCheck{{Name: "ID pool", Status: checkInfo, Detail: "user namespaces off in the policy"}}
	}
	var explicit []idmap.Range
	if pol.UserNamespace.Pool != nil {
		explicit = []idmap.Range{*pol.UserNamespace.Pool}
	}
	pool, source, err := idmap.ResolvePool(explicit, h.subuid, h.subgid, pol.UserNamespace.SubIDUser)
	if err != nil {
		return []doctorCheck{{Name: "ID pool", Status: checkFail, Detail: err.Error(), Fix: "give user " + pol.UserNamespace.SubIDUser + " the same ranges in /etc/subuid and /etc/subgid, or set \"userNamespace\": {\"pool\": ...}"}}
	}
	size := uint64(pol.UserNamespace.RangeSize)
	var total uint64
	for _, r := range pool {
		total += uint64(r.Size) / size
	}
	used := 0
	if entries, err := idmap.NewHostAllocator(pool, pol.UserNamespace.RangeSize).Entries(); err == nil {
		used = len(entries)
	}
	var ranges []string
	for _, r := range pool {
		ranges = append(ranges, r.String())
	}
	out := []doctorCheck{{Name: "ID pool", Status: checkOK,
		Detail: fmt.Sprintf("%s (%s): %d ranges of %d, %d in use, %d free", strings.Join(ranges, ", "), source, total, size, used, total-uint64(min(uint64(used), total)))}}
	if total-uint64(min(uint64(used), total)) == 0 {
		out[0].Status, out[0].Fix = checkFail, "delete stopped containers, or widen the pool (\"userNamespace\": {\"pool\": ...})"
	}
	others, err := subIDOwners(h.subuid)
	if err != nil {
		return out
	}
	for _, o := range others {
		if o.user == pol.UserNamespace.SubIDUser && source == idmap.SourceSubID {
			continue
		}
		for _, r := range pool {
			if r.Overlaps(o.r) {
				out = append(out, doctorCheck{Name: "ID pool overlap", Status: checkFail,
					Detail: fmt.Sprintf("pool %s overlaps %s's subordinate IDs %s in %s: their containers and ours could share host IDs", r, o.user, o.r, h.subuid),
					Fix:    fmt.Sprintf("give user %s its own entries in /etc/subuid and /etc/subgid (hardened's pool then comes from them), or set \"userNamespace\": {\"pool\": ...} outside %s", pol.UserNamespace.SubIDUser, o.r)})
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

func writeDoctor(w io.Writer, format string, checks []doctorCheck) error {
	if format == "json" {
		return writeJSON(w, checks, "  ")
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
