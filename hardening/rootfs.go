package hardening

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ReadonlyRootfs is the readonly-rootfs rule.
//
// Threat: a writable rootfs lets an intruder replace the image's programs
// and libraries (/usr, /bin, /etc) so that the next exec, or a host user's
// `docker exec`, runs their code.
//
// Fields: root.readonly becomes true (root is created if missing). The
// writable-paths rule then keeps state directories writable.
//
// Relaxed by: "readonlyRootfs": false.
func ReadonlyRootfs(s *specs.Spec, pol *Policy, _ HostFacts, r *Report) error {
	if !pol.ReadonlyRootfs {
		return nil
	}
	if s.Root == nil {
		s.Root = &specs.Root{}
	}
	if s.Root.Readonly {
		return nil
	}
	r.record(RuleReadonlyRootfs, "root.readonly", false, true)
	s.Root.Readonly = true
	return nil
}
