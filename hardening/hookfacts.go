package hardening

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// gatherHookBinaries fills f.HookPaths with where each absolute hook path
// resolves on the host (symlinks followed, so Docker's /proc/<pid>/exe
// gives dockerd), and f.HookBinaryProblems with the resolved binaries
// that someone other than root could replace (checkHookBinary). The
// resolved path is what the runtime hands to libcontainer (the hook-paths
// rule): a root-owned path that only root can write keeps its meaning
// from create to delete, whatever the caller's path pointed to.
func gatherHookBinaries(spec *specs.Spec, f *HostFacts) {
	for _, h := range allHooks(spec.Hooks) {
		if !filepath.IsAbs(h.hook.Path) {
			continue
		}
		if _, done := f.HookPaths[h.hook.Path]; done {
			continue
		}
		resolved, err := filepath.EvalSymlinks(h.hook.Path)
		if err != nil {
			continue
		}
		if f.HookPaths == nil {
			f.HookPaths = map[string]string{}
		}
		f.HookPaths[h.hook.Path] = resolved
		if problem := checkHookBinary(resolved); problem != "" {
			if f.HookBinaryProblems == nil {
				f.HookBinaryProblems = map[string]string{}
			}
			f.HookBinaryProblems[resolved] = problem
		}
	}
}

// checkHookBinary returns why the binary at the resolved, absolute path p
// could be changed by someone other than root, or "": p and every
// directory above it must be owned by root, not writable by group or
// others, and no symlink (Lstat: p was resolved, a symlink now means it
// changed); p must be a regular file.
func checkHookBinary(p string) string {
	for cur := p; ; cur = filepath.Dir(cur) {
		fi, err := os.Lstat(cur)
		if err != nil {
			return fmt.Sprintf("%s cannot be checked: %v", cur, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			return cur + " changed into a symlink while it was checked"
		case cur == p && !fi.Mode().IsRegular():
			return cur + " is not a regular file"
		case cur != p && !fi.IsDir():
			return cur + " is not a directory"
		case !ok || st.Uid != 0:
			return cur + " is not owned by root"
		case st.Mode&0o022 != 0:
			return fmt.Sprintf("%s is writable by group or others (mode %04o)", cur, st.Mode&0o7777)
		}
		if cur == "/" {
			return ""
		}
	}
}
