package hardening

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// UserNamespace is the user-namespace rule: the hook point where running
// every container in its own user namespace plugs in (the next issue). It
// sits before every rule that touches mounts or capabilities, because a
// user namespace changes what both mean.
//
// Threat (when implemented): container root is host root; a user
// namespace makes it an unprivileged ID on the host.
//
// Fields: none yet; it changes nothing. A missing user namespace is not
// refused.
//
// Relaxed by: nothing yet.
func UserNamespace(_ *specs.Spec, _ *Policy, _ HostFacts, _ *Report) error {
	return nil
}
