package shim

import (
	"os"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	seccompcache "github.com/hardened-runtime/hardened/internal/seccomp/cache"
)

// seccompCacheEnv set to "off" keeps a command from adding its filter to
// the compiled-filter cache (to compare, or to rule the cache out).
const seccompCacheEnv = "HARDENED_SECCOMP_CACHE"

// warmSeccompCache makes sure the container's seccomp filter is compiled
// in the cache, so that its init loads it instead of compiling it. A
// failure costs only that: the init compiles as it would without a cache.
func warmSeccompCache(c *cli.Context, id string, cfg *configs.Config) {
	if cfg.Seccomp == nil || os.Getenv(seccompCacheEnv) == "off" {
		return
	}
	build, _ := c.App.Metadata[buildInfoKey].(BuildInfo)
	cache := seccompcache.Cache{Dir: seccompcache.Dir, Build: build.Version + "+" + build.Commit}
	if err := cache.Ensure(cfg.Seccomp); err != nil {
		logrus.Warnf("container %s: %v; its init compiles the filter itself", id, err)
	}
}
