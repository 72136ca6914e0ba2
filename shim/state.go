package shim

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

// containerState is what state and list report, in the shape runc prints
// and go-runc decodes.
type containerState struct {
	Version        string            `json:"ociVersion"`
	ID             string            `json:"id"`
	InitProcessPid int               `json:"pid"`
	Status         string            `json:"status"`
	Bundle         string            `json:"bundle"`
	Rootfs         string            `json:"rootfs"`
	Created        time.Time         `json:"created"`
	Annotations    map[string]string `json:"annotations,omitempty"`
	Owner          string            `json:"owner"`
}

func stateCommand() *cli.Command {
	return &cli.Command{
		Name:        "state",
		Usage:       "print the state of a container as JSON",
		ArgsUsage:   "<container-id>",
		Description: `The state command prints the state of a container as JSON.`,
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 1); err != nil {
				return err
			}
			ct, err := loadContainer(c)
			if err != nil {
				return err
			}
			root, err := stateRoot(c)
			if err != nil {
				return err
			}
			st, err := describe(root, ct)
			if err != nil {
				return err
			}
			return writeJSON(c.App.Writer, st, "  ")
		},
	}
}

// describe reads a container's state as state and list report it.
func describe(root string, ct *libcontainer.Container) (*containerState, error) {
	status, err := ct.Status()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", ct.ID(), err)
	}
	st, err := ct.State()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", ct.ID(), err)
	}
	pid := st.BaseState.InitProcessPid
	if status == libcontainer.Stopped {
		pid = 0
	}
	bundle, annotations := utils.Annotations(st.Config.Labels)
	return &containerState{
		Version:        specs.Version,
		ID:             st.BaseState.ID,
		InitProcessPid: pid,
		Status:         status.String(),
		Bundle:         bundle,
		Rootfs:         st.BaseState.Config.Rootfs,
		Created:        st.BaseState.Created,
		Annotations:    annotations,
		Owner:          stateOwner(filepath.Join(root, ct.ID())),
	}, nil
}

// stateOwner names the owner of a container's state directory.
func stateOwner(dir string) string {
	fi, err := os.Stat(dir)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	uid := strconv.FormatUint(uint64(st.Uid), 10)
	if u, err := user.LookupId(uid); err == nil {
		return u.Username
	}
	return "#" + uid
}

func writeJSON(w io.Writer, v any, indent string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", indent)
	return enc.Encode(v)
}
