package learn

import (
	"slices"

	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// specOperator maps an OCI spec argument operator to libcontainer's.
func specOperator(op specs.LinuxSeccompOperator) (configs.Operator, bool) {
	switch op {
	case specs.OpEqualTo:
		return configs.EqualTo, true
	case specs.OpNotEqual:
		return configs.NotEqualTo, true
	case specs.OpGreaterThan:
		return configs.GreaterThan, true
	case specs.OpGreaterEqual:
		return configs.GreaterThanOrEqualTo, true
	case specs.OpLessThan:
		return configs.LessThan, true
	case specs.OpLessEqual:
		return configs.LessThanOrEqualTo, true
	case specs.OpMaskedEqual:
		return configs.MaskEqualTo, true
	}
	return 0, false
}

// Export returns base (an OCI seccomp profile, e.g. the policy's)
// narrowed to p (and initCalls): each allowing rule keeps only the names p allows under
// its argument conditions; rules left
// without names are dropped, the others are kept as they are. The result
// is a Docker/Kubernetes seccompProfile-compatible profile, never wider
// than base.
func Export(p *Profile, base *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	p = p.withInitCalls()
	out := *base
	out.ListenerPath, out.ListenerMetadata = "", ""
	out.Syscalls = nil
	for _, rule := range base.Syscalls {
		if rule.Action != specs.ActAllow {
			out.Syscalls = append(out.Syscalls, rule)
			continue
		}
		args := make([]*configs.Arg, 0, len(rule.Args))
		known := true
		for _, a := range rule.Args {
			op, ok := specOperator(a.Op)
			known = known && ok
			args = append(args, &configs.Arg{Index: a.Index, Value: a.Value, ValueTwo: a.ValueTwo, Op: op})
		}
		var names []string
		for _, n := range rule.Names {
			if known && p.allows(&configs.Syscall{Name: n, Args: args}) {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			continue
		}
		rule.Names = names
		out.Syscalls = append(out.Syscalls, rule)
	}
	return &out
}

// AllowedSpecNames returns the names some rule of prof allows, sorted.
func AllowedSpecNames(prof *specs.LinuxSeccomp) []string {
	var out []string
	for _, rule := range prof.Syscalls {
		if rule.Action != specs.ActAllow {
			continue
		}
		for _, n := range rule.Names {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out
}
