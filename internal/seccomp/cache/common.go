package cache

// Dir is where compiled filters are kept and where a container's init
// looks for them. It is fixed: the init knows nothing of --root when it
// reads it.
const Dir = "/run/hardened-seccomp"

// HelperArg is the first argument that makes this binary the compile
// helper (main dispatches it to HelperMain before the CLI).
const HelperArg = "seccomp-cache-compile"

// Cache is a directory of compiled filters.
type Cache struct {
	// Dir is the directory; containers' inits read only the package's Dir.
	Dir string
	// Build identifies this binary (version and commit), so that an
	// upgrade, whose libcontainer may build filters differently, does
	// not take an older binary's entry for its own.
	Build string
	// Exe is the binary run as the helper; empty means /proc/self/exe.
	Exe string
}
