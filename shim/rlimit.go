package shim

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The container's RLIMIT_AS is applied late, just before its process is
// exec'd, and not by libcontainer while the init still runs Go code. A Go
// 1.26 process reserves over 1 GiB of address space at start, and
// libcontainer sets rlimits before the init builds its seccomp filter, so
// a limit such as 1 GiB made every seccomp'd container fail with ENOMEM
// (runc 1.1, built with an older Go, ran them). The limit is saved in the
// container's state directory at create and set on the init once it waits
// for "start", after its filter is installed; execve keeps it.

// deferredLimitFile is the file in a container's state directory that
// holds its deferred RLIMIT_AS as "soft hard".
const deferredLimitFile = "hardened-rlimit-as"

// withoutAddressSpaceLimit removes RLIMIT_AS from the config and returns
// the process without it, and the limit (nil if none was set).
func withoutAddressSpaceLimit(cfg *configs.Config, p *specs.Process) (*specs.Process, *configs.Rlimit) {
	var limit *configs.Rlimit
	kept := cfg.Rlimits[:0]
	for _, rl := range cfg.Rlimits {
		if rl.Type == unix.RLIMIT_AS {
			limit = &configs.Rlimit{Type: rl.Type, Hard: rl.Hard, Soft: rl.Soft}
			continue
		}
		kept = append(kept, rl)
	}
	cfg.Rlimits = kept
	if p == nil {
		return p, limit
	}
	out := *p
	out.Rlimits = nil
	for _, rl := range p.Rlimits {
		if t, ok := rlimitType(rl.Type); ok && t == unix.RLIMIT_AS {
			if limit == nil {
				limit = &configs.Rlimit{Type: unix.RLIMIT_AS, Hard: rl.Hard, Soft: rl.Soft}
			}
			continue
		}
		out.Rlimits = append(out.Rlimits, rl)
	}
	return &out, limit
}

// saveDeferredLimit records limit in the container's state directory.
func saveDeferredLimit(root, id string, limit *configs.Rlimit) error {
	if limit == nil {
		return nil
	}
	data := fmt.Appendf(nil, "%d %d", limit.Soft, limit.Hard)
	return os.WriteFile(filepath.Join(root, id, deferredLimitFile), data, 0o600)
}

// applyDeferredLimit sets the saved RLIMIT_AS on the container's init once
// the init waits for start (its seccomp filter is then in place). It does
// nothing for a container without one.
func applyDeferredLimit(root string, ct *libcontainer.Container) error {
	data, err := os.ReadFile(filepath.Join(root, ct.ID(), deferredLimitFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("container %s: deferred RLIMIT_AS: %w", ct.ID(), err)
	}
	var soft, hard uint64
	if _, err := fmt.Sscanf(string(data), "%d %d", &soft, &hard); err != nil {
		return fmt.Errorf("container %s: deferred RLIMIT_AS %q: %w", ct.ID(), data, err)
	}
	st, err := ct.State()
	if err != nil {
		return fmt.Errorf("container %s: %w", ct.ID(), err)
	}
	pid := st.InitProcessPid
	if err := waitForStartFifo(pid, 10*time.Second); err != nil {
		return fmt.Errorf("container %s: deferred RLIMIT_AS: %w", ct.ID(), err)
	}
	if err := unix.Prlimit(pid, unix.RLIMIT_AS, &unix.Rlimit{Cur: soft, Max: hard}, nil); err != nil {
		return fmt.Errorf("container %s: set RLIMIT_AS on %d: %w", ct.ID(), pid, err)
	}
	return nil
}

// waitForStartFifo waits until pid's main thread blocks opening the exec
// FIFO ("wait_for_partner"), the last step of the init before execve.
func waitForStartFifo(pid int, timeout time.Duration) error {
	wchan := filepath.Join("/proc", strconv.Itoa(pid), "wchan")
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(wchan)
		if err != nil {
			return fmt.Errorf("init %d: %w", pid, err)
		}
		if bytes.Equal(bytes.TrimSpace(b), []byte("wait_for_partner")) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("init %d did not reach the start FIFO within %v (in %s)", pid, timeout, b)
		}
		time.Sleep(time.Millisecond)
	}
}
