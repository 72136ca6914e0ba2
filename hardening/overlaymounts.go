package hardening

import (
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// overlayDir is one host directory an overlay mount's options name.
type overlayDir struct {
	// key is the option naming it: lowerdir, lowerdir+, datadir+,
	// upperdir or workdir.
	key string
	// path is the directory as written.
	path string
	// ro is true for the layers the overlay only reads (lower, data).
	ro bool
}

// overlayDirKeys maps the overlay options that name host directories to
// whether the overlay only reads them.
func overlayDirKeys() map[string]bool {
	return map[string]bool{"lowerdir": true, "lowerdir+": true, "datadir+": true, "upperdir": false, "workdir": false}
}

// overlayDirs returns the host directories that m's options name (an
// overlay's layers: mount(2) takes them from the options, the source is
// a mere label) and the problems that stop them being checked: an option
// with a backslash (overlayfs reads it as an escape, so the text checked
// would not be what the kernel uses) or a relative directory (resolved
// against whatever the init's working directory is). An option holding
// commas is split as the kernel splits the joined options.
func overlayDirs(m specs.Mount) (dirs []overlayDir, problems []string) {
	keys := overlayDirKeys()
	for _, opt := range m.Options {
		for _, o := range strings.Split(opt, ",") {
			key, val, ok := strings.Cut(o, "=")
			ro, named := keys[key]
			if !ok || !named {
				continue
			}
			if strings.Contains(val, `\`) {
				problems = append(problems, fmt.Sprintf("option %q holds an escape", o))
				continue
			}
			parts := []string{val}
			if key == "lowerdir" {
				parts = strings.Split(val, ":")
			}
			for _, p := range parts {
				if !filepath.IsAbs(p) {
					problems = append(problems, fmt.Sprintf("%s %s is not an absolute path", key, p))
					continue
				}
				dirs = append(dirs, overlayDir{key: key, path: p, ro: ro})
			}
		}
	}
	return dirs, problems
}

// checkOverlayDirs is the host-mounts rule for the directories an
// overlay mount's options name: each is checked like a bind source (the
// layers the overlay only reads like a read-only bind), where it resolves
// on the host (HostFacts.MountSources) included.
func checkOverlayDirs(m specs.Mount, pol *Policy, f HostFacts, layout engineLayout, rootfs string, hostRoot bool, podUID string, r *Report) {
	dirs, problems := overlayDirs(m)
	for _, p := range problems {
		r.refuse(RuleHostMounts, fmt.Sprintf("overlay mount at %s: %s", m.Destination, p), "")
	}
	for _, d := range dirs {
		checkHostSource(d.path, filepath.Clean(d.path), d.ro, fmt.Sprintf("overlay mount at %s: %s %s", m.Destination, d.key, d.path), pol, f, layout, rootfs, hostRoot, podUID, r)
	}
}

// RewriteOverlayDirs returns opts with every host directory that an
// overlay mount's options name (the ones overlayDirs reads: lowerdir and
// its layers, lowerdir+, datadir+, upperdir, workdir) replaced by what
// with returns for it; key is the option naming the directory. Options
// naming no directory, and the order of everything, are kept. The runtime
// uses it to hand libcontainer the layers it opened once (the clones of
// Stage.PinOverlays) instead of paths that may lead elsewhere by then.
func RewriteOverlayDirs(opts []string, with func(key, dir string) (string, error)) ([]string, error) {
	keys := overlayDirKeys()
	out := make([]string, 0, len(opts))
	for _, opt := range opts {
		parts := strings.Split(opt, ",")
		for i, o := range parts {
			key, val, ok := strings.Cut(o, "=")
			if _, named := keys[key]; !ok || !named {
				continue
			}
			dirs := []string{val}
			if key == "lowerdir" {
				dirs = strings.Split(val, ":")
			}
			for j, d := range dirs {
				repl, err := with(key, d)
				if err != nil {
					return nil, err
				}
				dirs[j] = repl
			}
			parts[i] = key + "=" + strings.Join(dirs, ":")
		}
		out = append(out, strings.Join(parts, ","))
	}
	return out, nil
}

// OverlayDirIsLayer reports whether the overlay option key names a layer
// the overlay only reads (lowerdir, lowerdir+, datadir+), not its upper
// or work directory.
func OverlayDirIsLayer(key string) bool {
	return overlayDirKeys()[key]
}
