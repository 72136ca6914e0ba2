package create

import (
	"fmt"

	"github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/sirupsen/logrus"

	"github.com/hardened-runtime/hardened/hardening"
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
// ("nothing breaks that did not have to"). It returns one note
// (RuleCompat) per field it cleared.
func keepOlderConfigsWorking(id string, cfg *configs.Config) []hardening.Note {
	var notes []hardening.Note
	for _, d := range cfg.Devices {
		if d.Type == config.FifoDevice && (d.Major != 0 || d.Minor != 0) {
			notes = append(notes, hardening.Note{Rule: RuleCompat, Message: fmt.Sprintf("FIFO device %s: major:minor %d:%d cleared for libcontainer, which mknod(2) ignores for a FIFO", d.Path, d.Major, d.Minor)})
			d.Major, d.Minor = 0, 0
		}
	}
	for _, m := range cfg.Mounts {
		if m.IsBind() && m.Data != "" {
			logrus.Debugf("container %s: bind mount %s: ignoring options %q, which a bind mount cannot apply", id, m.Destination, m.Data)
			notes = append(notes, hardening.Note{Rule: RuleCompat, Message: fmt.Sprintf("bind mount %s: options %q dropped for libcontainer, which a bind mount cannot apply", m.Destination, m.Data)})
			m.Data = ""
		}
	}
	return notes
}
