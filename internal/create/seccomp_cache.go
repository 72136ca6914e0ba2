package create

import (
	"os"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/sirupsen/logrus"

	seccompcache "github.com/hardened-runtime/hardened/internal/seccomp/cache"
)

// seccompCacheEnv set to "off" keeps a command from adding its filter to
// the compiled-filter cache (to compare, or to rule the cache out).
const seccompCacheEnv = "HARDENED_SECCOMP_CACHE"

// warmSeccompCache makes sure the container's seccomp filter is compiled
// in the cache, so that its init loads it instead of compiling it. A
// failure costs only that: the init compiles as it would without a cache.
// build names the runtime's build (version+commit), which the cache keys on.
func warmSeccompCache(build, id string, cfg *configs.Config) {
	if cfg.Seccomp == nil || os.Getenv(seccompCacheEnv) == "off" {
		return
	}
	cache := seccompcache.Cache{Dir: seccompcache.Dir, Build: build}
	if err := cache.Ensure(cfg.Seccomp); err != nil {
		logrus.Warnf("container %s: %v; its init compiles the filter itself", id, err)
	}
}
