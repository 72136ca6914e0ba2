// Package execspec builds the process "hardened exec" runs: a
// runtime-spec Process read whole (--process, as containerd passes it) or
// the bundle's process with the command line's changes applied, as
// runc's exec flags do. The hardening clamp runs on the result.
package execspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/spec"
)

// SubCgroupPaths reads exec --cgroup: one "<path>" (cgroup v2), or
// "<controller>[,<controller>...]:<path>" arguments (v1), into the map
// libcontainer takes (controller "" for v2). libcontainer keeps the paths
// inside the container's cgroup.
func SubCgroupPaths(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	paths := make(map[string]string, len(args))
	for _, arg := range args {
		controllers, path, ok := strings.Cut(arg, ":")
		if !ok {
			if len(args) != 1 {
				return nil, fmt.Errorf("--cgroup %q: with several --cgroup each needs a <controller>: prefix", arg)
			}
			paths[""] = arg
			continue
		}
		for _, ctrl := range strings.Split(controllers, ",") {
			if ctrl == "" {
				return nil, fmt.Errorf("--cgroup %q: empty controller name", arg)
			}
			if _, dup := paths[ctrl]; dup {
				return nil, fmt.Errorf("--cgroup: controller %s given twice", ctrl)
			}
			paths[ctrl] = path
		}
	}
	return paths, nil
}

// Decode reads a runtime-spec Process (a --process file): fields this
// runtime does not know are tolerated, anything after the object is not.
func Decode(raw []byte) (*specs.Process, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var p specs.Process
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	if err := spec.ValidateProcess(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

// FromBundle reads the process of the bundle the container was created
// from, found through the "bundle" label libcontainer keeps in its state.
func FromBundle(ct *libcontainer.Container, maxSize int64) (*specs.Process, error) {
	dir, ok := utils.SearchLabels(ct.Config().Labels, "bundle")
	if !ok || dir == "" {
		return nil, errors.New("the container's bundle is not recorded in its state")
	}
	bundle, err := spec.LoadBundleLimit(dir, maxSize)
	if err != nil {
		return nil, err
	}
	return bundle.Spec.Process, nil
}

// Overrides are the command line's changes to the bundle's process.
type Overrides struct {
	Args           []string
	Cwd            string
	Env            []string
	User           string // <uid>[:<gid>]
	AdditionalGids []int64
	Caps           []string
	TTY            bool
	NoNewPrivs     *bool // nil: keep the bundle's value
	Apparmor       string
	Label          string
}

// Apply changes p as runc's exec flags do. A terminal is used only when
// asked for, whatever config.json says.
func (o Overrides) Apply(p *specs.Process) error {
	p.Args = o.Args
	p.CommandLine = ""
	p.Terminal = o.TTY
	p.ConsoleSize = nil
	if o.Cwd != "" {
		p.Cwd = o.Cwd
	}
	p.Env = append(p.Env, o.Env...)
	if o.User != "" {
		uid, gid, hasGID, err := parseUser(o.User)
		if err != nil {
			return err
		}
		p.User.UID = uid
		if hasGID {
			p.User.GID = gid
		}
	}
	for _, g := range o.AdditionalGids {
		if g < 0 || g > int64(^uint32(0)) {
			return fmt.Errorf("--additional-gids: %d is not a valid group ID", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
	}
	if err := addCapabilities(p, o.Caps); err != nil {
		return err
	}
	if o.NoNewPrivs != nil {
		p.NoNewPrivileges = *o.NoNewPrivs
	}
	if o.Apparmor != "" {
		p.ApparmorProfile = o.Apparmor
	}
	if o.Label != "" {
		p.SelinuxLabel = o.Label
	}
	return nil
}

// parseUser parses --user "<uid>[:<gid>]". Names are not resolved: they
// would have to be looked up in the container's /etc/passwd, not ours.
func parseUser(s string) (uid, gid uint32, hasGID bool, err error) {
	uidText, gidText, hasGID := strings.Cut(s, ":")
	uid, err = parseID(uidText)
	if err != nil {
		return 0, 0, false, fmt.Errorf("--user %q: uid: %w", s, err)
	}
	if hasGID {
		if gid, err = parseID(gidText); err != nil {
			return 0, 0, false, fmt.Errorf("--user %q: gid: %w", s, err)
		}
	}
	return uid, gid, hasGID, nil
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a numeric ID", s)
	}
	return uint32(n), nil
}

// addCapabilities adds caps to the bounding, effective and permitted sets
// (and ambient when the process already has inheritable capabilities, as
// ambient ones need them), the way runc's --cap does. Names may omit the
// CAP_ prefix. The hardening clamp runs afterwards and has the last word.
func addCapabilities(p *specs.Process, caps []string) error {
	if len(caps) == 0 {
		return nil
	}
	if p.Capabilities == nil {
		p.Capabilities = &specs.LinuxCapabilities{}
	}
	set := p.Capabilities
	for _, name := range caps {
		capName, err := capabilityName(name)
		if err != nil {
			return err
		}
		set.Bounding = appendMissing(set.Bounding, capName)
		set.Effective = appendMissing(set.Effective, capName)
		set.Permitted = appendMissing(set.Permitted, capName)
		if len(set.Inheritable) > 0 {
			set.Ambient = appendMissing(set.Ambient, capName)
		}
	}
	return nil
}

// capabilityName canonicalises "net_admin" or "CAP_NET_ADMIN" to CAP_NET_ADMIN.
func capabilityName(s string) (string, error) {
	name := strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(name, "CAP_") {
		name = "CAP_" + name
	}
	if name == "CAP_" || strings.ContainsFunc(name, func(r rune) bool {
		return (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_'
	}) {
		return "", fmt.Errorf("--cap: %q is not a capability name", s)
	}
	return name, nil
}

// appendMissing appends s to list unless it is there already.
func appendMissing(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
