package hardening

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

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
		//lint:ignore SA1019 deprecated, but runc still runs these hooks
		{"prestart", h.Prestart},
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
// arbitrary host code execution for whoever writes config.json. An allowed
// binary is no safer when the caller picks its arguments (dockerd with
// arguments of the caller's choosing is a second daemon run as root), its
// environment (LD_PRELOAD of a library in the bundle) or, through a
// symlink, the file the name points to when the hook finally runs.
//
// Fields (read only): hooks.{prestart,createRuntime,createContainer,
// startContainer,poststart,poststop}[].{path,args,env}. A hook runs only
// when:
//   - its path is absolute and resolves on the host (HostFacts.HookPaths,
//     so Docker's /proc/<dockerd pid>/exe is /usr/sbin/dockerd);
//   - its cleaned path or the resolved binary is the path of an
//     "allowedHooks" entry whose argument shape its args fit
//     (HookAllowance: a plain path entry allows no arguments);
//   - its env sets no variable of HookLoaderVariables (LD_PRELOAD,
//     GCONV_PATH...) that the entry does not list under "env";
//   - the resolved binary, and every directory above it, is owned by
//     root and writable by root alone (HostFacts.HookBinaryProblems).
//
// The hook-paths rule then hands libcontainer the resolved binary that
// was checked here.
//
// Relaxed by: "allowedHooks" (entries {"path", "args", "env"}; the
// default allows dockerd with its libnetwork-setkey arguments). A binary
// that others can write, or a relative path, is allowed by no key.
func RefuseHooks(s *specs.Spec, pol *Policy, f HostFacts, r *Report) error {
	for _, h := range allHooks(s.Hooks) {
		refuseHook(h, pol, f, r)
	}
	return nil
}

// refuseHook checks one hook; see RefuseHooks.
func refuseHook(h namedHook, pol *Policy, f HostFacts, r *Report) {
	p := h.hook.Path
	what := fmt.Sprintf("%s hook %s", h.stage, p)
	if !filepath.IsAbs(p) {
		r.refuse(RuleHooks, what+": the path is not absolute (it would be looked up from wherever the runtime runs)", "")
		return
	}
	resolved, ok := f.HookPaths[p]
	candidates := []string{filepath.Clean(p)}
	if ok && filepath.Clean(resolved) != candidates[0] {
		candidates = append(candidates, filepath.Clean(resolved))
		what += " (" + resolved + ")"
	}
	var named []HookAllowance
	for _, a := range pol.AllowedHooks {
		if slices.Contains(candidates, a.Path) {
			named = append(named, a)
		}
	}
	if !ok {
		r.refuse(RuleHooks, fmt.Sprintf("%s hook %s runs on the host as root and does not resolve to a binary on the host", h.stage, p), "")
		return
	}
	if len(named) == 0 {
		want := candidates[len(candidates)-1]
		r.refuse(RuleHooks, fmt.Sprintf("%s hook %s runs on the host as root", h.stage, p), allowHooksKey(HookAllowance{Path: want, Args: suggestedArgs(h.hook.Args)}))
		return
	}
	i := slices.IndexFunc(named, func(a HookAllowance) bool { return a.argsMatch(h.hook.Args) })
	if i < 0 {
		r.refuse(RuleHooks, fmt.Sprintf("%s runs with args %s, which no \"allowedHooks\" entry for %s allows", what, jsonValue(append([]string{}, h.hook.Args...)), named[0].Path),
			allowHooksKey(HookAllowance{Path: named[0].Path, Args: suggestedArgs(h.hook.Args)}))
		return
	}
	entry := named[i]
	for _, kv := range h.hook.Env {
		name, _, _ := strings.Cut(kv, "=")
		if loaderVariable(name) && !entry.envAllowed(name) {
			allow := entry
			allow.Env = append(slices.Clone(entry.Env), name)
			r.refuse(RuleHooks, fmt.Sprintf("%s sets %s, which changes what the binary loads or runs", what, name), allowHooksKey(allow))
		}
	}
	if problem, bad := f.HookBinaryProblems[resolved]; bad {
		r.refuse(RuleHooks, fmt.Sprintf("%s: someone other than root could replace the binary: %s", what, problem), "")
	}
}

// suggestedArgs returns the args pattern to name in an allow key: nil (a
// plain entry) when the hook has none, else the args with every
// container or controller ID (12 to 64 lower-case hex digits) made
// {hex}, so that the hint allows the hook for the next container too.
func suggestedArgs(args []string) []string {
	if len(args) == 0 {
		return nil
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if len(a) >= 12 && len(a) <= 64 && strings.Trim(a, "0123456789abcdef") == "" {
			out[i] = "{hex}"
		}
	}
	return out
}

// allowHooksKey renders the "allowedHooks" key that would allow a hook.
func allowHooksKey(a HookAllowance) string {
	return fmt.Sprintf(`"allowedHooks": [%s]`, jsonValue(a))
}

// maxHookTimeout is the longest a hook may run, in seconds, once hardened.
const maxHookTimeout = 120

// PinHooks is the hook-paths rule.
//
// Threat: a hook path is a name, looked up when the hook runs: a
// poststop hook runs at delete, long after create checked it. A symlink
// in the bundle that pointed to an allowed binary at create can point to
// any program by then. A hook without a timeout that never ends holds the
// container's create or delete forever.
//
// Fields: hooks.*[].path, set to the binary it resolved to when the hooks
// rule checked it (HostFacts.HookPaths: a root-owned path that only root
// can change, so what libcontainer saves and runs, at create and at
// delete, is what was checked); hooks.*[].timeout, set to at most
// maxHookTimeout seconds (120) and to that when unset.
//
// Relaxed by: nothing; hooks that cannot be pinned are refused by the
// hooks rule.
func PinHooks(s *specs.Spec, _ *Policy, f HostFacts, r *Report) error {
	if s.Hooks == nil {
		return nil
	}
	for _, st := range []struct {
		name  string
		hooks []specs.Hook
	}{
		//lint:ignore SA1019 deprecated, but runc still runs these hooks
		{"prestart", s.Hooks.Prestart},
		{"createRuntime", s.Hooks.CreateRuntime},
		{"createContainer", s.Hooks.CreateContainer},
		{"startContainer", s.Hooks.StartContainer},
		{"poststart", s.Hooks.Poststart},
		{"poststop", s.Hooks.Poststop},
	} {
		for i := range st.hooks {
			h := &st.hooks[i]
			field := fmt.Sprintf("hooks.%s[%d]", st.name, i)
			if resolved, ok := f.HookPaths[h.Path]; ok && resolved != h.Path {
				r.record(RuleHookPaths, field+".path", h.Path, resolved)
				h.Path = resolved
			}
			if h.Timeout == nil || *h.Timeout > maxHookTimeout || *h.Timeout <= 0 {
				limit := maxHookTimeout
				r.record(RuleHookPaths, field+".timeout", h.Timeout, limit)
				h.Timeout = &limit
			}
		}
	}
	return nil
}
