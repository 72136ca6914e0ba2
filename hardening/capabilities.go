package hardening

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// LevelCapabilities returns the capability allow-list of a level, fresh on
// each call. baseline keeps what ordinary images need to run as root in
// their own rootfs (chown files, switch users, bind low ports); it drops
// Docker's NET_RAW, MKNOD, SETFCAP, SETPCAP, SYS_CHROOT and AUDIT_WRITE.
// restricted keeps NET_BIND_SERVICE only, as Kubernetes' restricted level.
// An unknown level gets the restricted list.
func LevelCapabilities(level string) []string {
	if level == LevelBaseline {
		return []string{
			"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
			"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE",
		}
	}
	return []string{"CAP_NET_BIND_SERVICE"}
}

// ClampCapabilities is the capabilities rule, shared by create and exec.
//
// Threat: capabilities are root's powers over the kernel; a container
// holding CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_NET_ADMIN and the like can
// escape or take over the host. Ambient and inheritable capabilities
// survive execve of ordinary binaries, so a drop that leaves them is no
// drop.
//
// Fields: process.capabilities.{bounding,effective,permitted} become the
// intersection of what the caller asked for with the level's allow-list
// plus allowCapabilities (a clamp never grants what was not asked);
// process.capabilities.{inheritable,ambient} are emptied. A missing
// capabilities section becomes an empty one.
//
// Relaxed by: "level" and "allowCapabilities".
func ClampCapabilities(p *specs.Process, pol *Policy, _ HostFacts, r *Report) error {
	allowed := append(LevelCapabilities(pol.Level), pol.AllowCapabilities...)
	c := ensureCapabilities(p)
	clamp := func(path string, set *[]string, keep bool) {
		var out []string
		if keep {
			for _, name := range *set {
				if slices.Contains(allowed, name) && !slices.Contains(out, name) {
					out = append(out, name)
				}
			}
		}
		r.recordStrings(RuleCapabilities, path, *set, out)
		*set = out
	}
	requested := c.Bounding
	clamp("process.capabilities.bounding", &c.Bounding, true)
	warnDroppedCapabilities(requested, c.Bounding, r)
	clamp("process.capabilities.effective", &c.Effective, true)
	clamp("process.capabilities.permitted", &c.Permitted, true)
	clamp("process.capabilities.inheritable", &c.Inheritable, false)
	clamp("process.capabilities.ambient", &c.Ambient, false)
	return nil
}
