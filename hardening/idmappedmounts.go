package hardening

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/spec"

	"github.com/hardened-runtime/hardened/idmap"
)

// idmapped reports whether a mount asks for an idmapped mount: the idmap
// or ridmap option, or mappings of its own. libcontainer gives an idmap
// or ridmap mount without mappings the container's user-namespace mapping.
func idmapped(m specs.Mount) bool {
	return len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 ||
		slices.Contains(m.Options, "idmap") || slices.Contains(m.Options, "ridmap")
}

// RefuseIDMappedMounts is the idmapped-mounts rule.
//
// Threat: through an idmapped bind mount the container's IDs are written
// to the host as the mapping says: a caller's mapping of container root
// to host 0, or even the container's own mapping on a root-owned host
// directory that is not on the sensitive list (/usr/local/bin,
// /var/spool/cron, /home), makes container root host root there,
// set-user-ID files included. Mount idmapping is the runtime's to choose.
//
// Fields (read only): mounts[].uidMappings, gidMappings and the options
// idmap and ridmap. A mount so idmapped is accepted only when its
// mapping (for idmap/ridmap without mappings: the container's, as
// libcontainer applies it) maps no host ID 0 and is exactly the mapping
// of the user namespace the container will be in (containerMapping),
// and, unless the runtime would idmap the mount the same way itself (the
// user-namespace rule's Docker volumes, or every host bind with
// "idmapBindMounts"), its source, as written and as resolved
// (HostFacts.MountSources), lies below a directory of
// "idmapMountSources" (an entry below an engine's default root applies
// below its further roots too, engineLayout): a kubelet's hostUsers:
// false pod's volumes. The idmapped-mount-options rule then makes every
// idmapped mount nosuid,nodev.
//
// Relaxed by: "idmapMountSources" (host directories below which an
// engine may idmap with the container's own mapping). Other mappings,
// and mappings of host ID 0, are allowed by no key.
func RefuseIDMappedMounts(s *specs.Spec, pol *Policy, f HostFacts, r *Report) error {
	var own idMapping
	var ownErr string
	checked := false
	for _, m := range s.Mounts {
		if !idmapped(m) {
			continue
		}
		what := fmt.Sprintf("idmapped mount of %s at %s", m.Source, m.Destination)
		if !checked {
			own, ownErr = containerMapping(s, pol, f)
			checked = true
		}
		mine := idMapping{uid: m.UIDMappings, gid: m.GIDMappings}
		if len(mine.uid) == 0 && len(mine.gid) == 0 {
			mine = own
		}
		switch {
		case mapsHostID0(mine.uid) || mapsHostID0(mine.gid):
			r.refuse(RuleIDMappedMounts, what+": its mapping includes host ID 0", "")
			continue
		case ownErr == rangePending && len(mine.uid)+len(mine.gid) > 0 && !mine.equal(requestedMapping(s)):
			// Only the range the caller asks for can become the
			// container's; Checked.Recheck compares with the one
			// allocated.
			r.refuse(RuleIDMappedMounts, fmt.Sprintf("%s: mapping %s is not the container's own (the range allocated at create)", what, mine), "")
			continue
		case ownErr == rangePending:
		case ownErr != "":
			r.refuse(RuleIDMappedMounts, what+": "+ownErr, "")
			continue
		case !mine.equal(own):
			r.refuse(RuleIDMappedMounts, fmt.Sprintf("%s: mapping %s is not the container's own %s", what, mine, own), "")
			continue
		}
		if runtimeWouldIDMap(s, m, pol, f) {
			continue
		}
		bad := outsideIDMapSources(m, pol, f)
		switch {
		case bad == "":
		case !filepath.IsAbs(bad):
			r.refuse(RuleIDMappedMounts, what+": "+bad+" is not an absolute host path below a directory where engines idmap volumes", "")
		default:
			r.refuse(RuleIDMappedMounts, what+": "+bad+" is not below a directory where engines idmap volumes",
				fmt.Sprintf(`"idmapMountSources": [%q]`, bad))
		}
	}
	return nil
}

// rangePending is containerMapping's answer before the runtime has
// allocated the container's ID range: Check runs every refusal before any
// host side effect, and Checked.Recheck compares once the range is known.
const rangePending = "the container's ID range is not allocated yet"

// plannedUserns is the plan Check made (HostFacts.UsernsPlan), else a
// fresh one.
func plannedUserns(s *specs.Spec, pol *Policy, f HostFacts) (UsernsPlan, error) {
	if f.UsernsPlan != nil {
		return *f.UsernsPlan, nil
	}
	return PlanUserNamespace(s, pol, f)
}

// requestedMapping is the spec's own linux mapping, which the runtime
// allocates for a new user namespace when it is a free range of the pool.
func requestedMapping(s *specs.Spec) idMapping {
	if s.Linux == nil {
		return idMapping{}
	}
	return idMapping{uid: s.Linux.UIDMappings, gid: s.Linux.GIDMappings}
}

// idMapping is a pair of uid and gid mappings.
type idMapping struct {
	uid, gid []specs.LinuxIDMapping
}

func (a idMapping) equal(b idMapping) bool {
	return len(a.uid) > 0 && len(a.gid) > 0 && slices.Equal(a.uid, b.uid) && slices.Equal(a.gid, b.gid)
}

// String renders the mapping as "uid 0:1879048192:65536 gid ...".
func (a idMapping) String() string {
	render := func(ms []specs.LinuxIDMapping) string {
		if len(ms) == 0 {
			return "none"
		}
		parts := make([]string, 0, len(ms))
		for _, m := range ms {
			parts = append(parts, fmt.Sprintf("%d:%d:%d", m.ContainerID, m.HostID, m.Size))
		}
		return strings.Join(parts, ",")
	}
	return "(uid " + render(a.uid) + ", gid " + render(a.gid) + ")"
}

// mapsHostID0 reports whether a mapping includes host ID 0.
func mapsHostID0(ms []specs.LinuxIDMapping) bool {
	return slices.ContainsFunc(ms, func(m specs.LinuxIDMapping) bool {
		return m.Size > 0 && m.HostID == 0
	})
}

// specMappings converts the idmap package's mappings.
func specMappings(ms []idmap.Mapping) []specs.LinuxIDMapping {
	var out []specs.LinuxIDMapping
	for _, m := range ms {
		out = append(out, specs.LinuxIDMapping{ContainerID: m.ContainerID, HostID: m.Host.Start, Size: m.Host.Size})
	}
	return out
}

// containerMapping returns the mapping of the user namespace the
// container will run in, or why it cannot be known:
//   - a user namespace joined by path: the mappings the runtime read from
//     it (HostFacts.Usernses), else the spec's linux mappings, which
//     libcontainer checks against the namespace it joins;
//   - with the user-namespace rule on: what PlanUserNamespace gives, a
//     new namespace of the allocated range (HostFacts.IDRange) or the one
//     of the container whose namespaces it joins;
//   - a new user namespace otherwise: the spec's linux mappings.
func containerMapping(s *specs.Spec, pol *Policy, f HostFacts) (idMapping, string) {
	var l specs.Linux
	if s.Linux != nil {
		l = *s.Linux
	}
	spec := idMapping{uid: l.UIDMappings, gid: l.GIDMappings}
	i := slices.IndexFunc(l.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace })
	if i >= 0 && l.Namespaces[i].Path != "" {
		path := l.Namespaces[i].Path
		if info, ok := f.Usernses[path]; ok && len(info.UIDMap) > 0 {
			return idMapping{uid: specMappings(info.UIDMap), gid: specMappings(info.GIDMap)}, ""
		}
		if len(spec.uid) > 0 && len(spec.gid) > 0 {
			return spec, ""
		}
		return idMapping{}, "the mapping of the joined user namespace " + path + " is unknown"
	}
	if pol.UserNamespace.Enabled && pol.Mode != ModeOff {
		plan, err := plannedUserns(s, pol, f)
		switch {
		case err != nil:
			return idMapping{}, err.Error()
		case plan.New && f.IDRange != nil:
			m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: f.IDRange.Start, Size: f.IDRange.Size}}
			return idMapping{uid: m, gid: slices.Clone(m)}, ""
		case plan.New && f.UsernsPlan != nil:
			return idMapping{}, rangePending
		case plan.Join != "":
			for _, info := range f.Usernses {
				if info.Path == plan.Join && len(info.UIDMap) > 0 {
					return idMapping{uid: specMappings(info.UIDMap), gid: specMappings(info.GIDMap)}, ""
				}
			}
			return idMapping{}, "the mapping of the joined user namespace " + plan.Join + " is unknown"
		}
	}
	if i < 0 {
		return idMapping{}, "the container has no user namespace"
	}
	if len(spec.uid) == 0 || len(spec.gid) == 0 {
		return idMapping{}, "the container's user namespace has no mapping"
	}
	return spec, ""
}

// runtimeWouldIDMap reports whether the user-namespace rule idmaps m with
// the container's mapping itself (a Docker named volume, or any host bind
// with "idmapBindMounts"), so that a spec hardened once passes again.
func runtimeWouldIDMap(s *specs.Spec, m specs.Mount, pol *Policy, f HostFacts) bool {
	if !pol.UserNamespace.Enabled || pol.Mode == ModeOff || !spec.IsBind(m) || !filepath.IsAbs(m.Source) {
		return false
	}
	if plan, err := plannedUserns(s, pol, f); err != nil || !plan.New || (f.IDRange == nil && f.UsernsPlan == nil) {
		return false
	}
	switch {
	case pol.UserNamespace.IDMapBindMounts:
		rootfs := rootfsPath(s, f)
		return rootfs == "" || !spec.Within(filepath.Clean(m.Source), rootfs)
	case f.DockerRoot != "" || f.PodmanRoot != "":
		return isDockerVolume(m, f)
	}
	return false
}

// outsideIDMapSources returns the source path (as written, or as
// resolved) that is not strictly below an "idmapMountSources" directory
// (or the same below an engine's further root, engineLayout), or "".
func outsideIDMapSources(m specs.Mount, pol *Policy, f HostFacts) string {
	if !filepath.IsAbs(m.Source) {
		return m.Source
	}
	candidates := []string{filepath.Clean(m.Source)}
	if resolved, ok := f.MountSources[m.Source]; ok {
		candidates = append(candidates, filepath.Clean(resolved))
	}
	sources := engineLayoutOf(pol, f).idmapSources(pol.IDMapMountSources)
	for _, c := range candidates {
		if !slices.ContainsFunc(sources, func(dir string) bool { return strictlyBelow(c, dir) }) {
			return c
		}
	}
	return ""
}

// strictlyBelow reports whether the clean absolute path p lies below the
// "idmapMountSources" entry dir (not at it). An entry with wildcards (see
// path.Match) matches as many leading components of p as it has.
func strictlyBelow(p, dir string) bool {
	if !strings.ContainsAny(dir, `*?[\`) {
		return p != dir && spec.Within(p, dir)
	}
	n := strings.Count(dir, "/")
	parts := strings.Split(p, "/")
	if len(parts) <= n+1 {
		return false
	}
	ok, _ := path.Match(dir, strings.Join(parts[:n+1], "/"))
	return ok
}

// IDMappedMountOptions is the idmapped-mount-options rule.
//
// Threat: through an idmapped mount container root acts as host root on
// the mount's directory: a set-user-ID-root file or a device node it
// leaves there works for host users too.
//
// Fields: mounts[].options of every idmapped mount (mappings, or the
// idmap/ridmap option), those the idmapped-mounts rule let through and
// those the user-namespace rule made: nosuid and nodev are added, suid
// and dev (which would undo them) removed.
//
// Relaxed by: nothing.
func IDMappedMountOptions(s *specs.Spec, _ *Policy, _ HostFacts, r *Report) error {
	for i := range s.Mounts {
		m := &s.Mounts[i]
		if !idmapped(*m) {
			continue
		}
		opts := slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "suid" || o == "dev" })
		for _, o := range []string{"nosuid", "nodev"} {
			if !slices.Contains(opts, o) {
				opts = append(opts, o)
			}
		}
		r.recordStrings(RuleIDMappedOptions, "mounts[destination="+m.Destination+"].options", m.Options, opts)
		m.Options = opts
	}
	return nil
}
