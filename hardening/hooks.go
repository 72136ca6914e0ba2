package hardening

import (
	"fmt"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type namedHook struct {
	stage string
	hook  specs.Hook
}

// allHooks lists every hook of every stage, the deprecated prestart
// included.
func allHooks(h *specs.Hooks) []namedHook {
	if h == nil {
		return nil
	}
	var out []namedHook
	for _, st := range []struct {
		name  string
		hooks []specs.Hook
	}{
		{"prestart", h.Prestart}, //nolint:staticcheck // deprecated, still run by runc
		{"createRuntime", h.CreateRuntime},
		{"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer},
		{"poststart", h.Poststart},
		{"poststop", h.Poststop},
	} {
		for _, hk := range st.hooks {
			out = append(out, namedHook{stage: st.name, hook: hk})
		}
	}
	return out
}

// RefuseHooks is the hooks rule.
//
// Threat: OCI hooks run on the host, as root, outside every namespace and
// restriction of the container (createContainer and startContainer run in
// the container's namespaces but still with full root powers): a hook is
// arbitrary host code execution for whoever writes config.json.
//
// Fields (read only): hooks.{prestart,createRuntime,createContainer,
// startContainer,poststart,poststop}[].path. A hook runs only if its
// cleaned path, or the binary it resolves to on the host
// (HostFacts.HookPaths, so Docker's /proc/<dockerd pid>/exe matches
// /usr/sbin/dockerd), is on the allow-list.
//
// Relaxed by: "allowedHooks" (absolute paths; the default lists dockerd,
// whose libnetwork-setkey prestart hook sets up networking).
func RefuseHooks(s *specs.Spec, pol *Policy, f HostFacts, r *Report) {
	for _, h := range allHooks(s.Hooks) {
		p := h.hook.Path
		if filepath.IsAbs(p) && slices.Contains(pol.AllowedHooks, filepath.Clean(p)) {
			continue
		}
		if resolved, ok := f.HookPaths[p]; ok && slices.Contains(pol.AllowedHooks, filepath.Clean(resolved)) {
			continue
		}
		want := p
		if resolved, ok := f.HookPaths[p]; ok {
			want = resolved
		}
		r.refuse(RuleHooks, fmt.Sprintf("%s hook %s runs on the host as root", h.stage, p),
			fmt.Sprintf(`"allowedHooks": [%q]`, filepath.Clean(want)))
	}
}
