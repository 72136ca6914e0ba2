package create

import (
	"github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/sirupsen/logrus"
)

// keepOlderConfigsWorking relaxes two checks that libcontainer 1.2 and
// later added and runc 1.1 (what Debian and many fleets run) did not make,
// where the config is harmless and the kernel ignores the field anyway:
//
//   - a FIFO device with a major:minor: mknod(2) ignores the numbers for a
//     FIFO, and libcontainer then refuses the node it made because they
//     differ from the config;
//   - filesystem options (mode=, size=) on a bind mount: MS_BIND ignores
//     the data argument, and libcontainer refuses the mount.
//
// Without this, configs that run under runc 1.1 fail to start here
// ("nothing breaks that did not have to").
func keepOlderConfigsWorking(id string, cfg *configs.Config) {
	for _, d := range cfg.Devices {
		if d.Type == config.FifoDevice && (d.Major != 0 || d.Minor != 0) {
			d.Major, d.Minor = 0, 0
		}
	}
	for _, m := range cfg.Mounts {
		if m.IsBind() && m.Data != "" {
			logrus.Debugf("container %s: bind mount %s: ignoring options %q, which a bind mount cannot apply", id, m.Destination, m.Data)
			m.Data = ""
		}
	}
}
