package shim

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/internal/audit"
	"github.com/hardened-runtime/hardened/internal/containers"
	"github.com/hardened-runtime/hardened/internal/create"
	"github.com/hardened-runtime/hardened/spec"
)

// inspectCommand prints a container's full record.
func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "print the hardening record of a container, live or gone",
		ArgsUsage: "<container-id>",
		Description: `The inspect command prints, as JSON, the record hardened made when it created
the container: engine, name, image, pod, mode, level, exceptions used, every
change and refusal by rule with its policy key, warnings and notes, with the
container's current status. The container is looked for in the same state
roots as "hardened containers" (an ID prefix of at least 4 characters is
enough when it is unique). For a container that is gone, every record of
that ID in the audit log (auditLog.path of the policy) is printed instead,
one JSON object a line.`,
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 1); err != nil {
				return err
			}
			return inspectContainer(c, c.Args().First())
		},
	}
}

// inspected is what inspect prints for a live container.
type inspected struct {
	Status string `json:"status"`
	Pid    int    `json:"pid"`
	*audit.Record
}

func inspectContainer(c *cli.Context, ref string) error {
	if err := spec.ValidateID(ref); err != nil {
		return err
	}
	hits := containerStore(c).Find(ref)
	if len(hits) > 1 {
		var names []string
		for _, h := range hits {
			names = append(names, filepath.Join(h.Root, h.ID))
		}
		return fmt.Errorf("container %s: ambiguous, matches %s", ref, strings.Join(names, ", "))
	}
	if len(hits) == 1 {
		rec, err := create.LoadRecord(hits[0].Root, hits[0].ID)
		if err != nil {
			return fmt.Errorf("container %s: %w", ref, err)
		}
		if rec == nil {
			return fmt.Errorf("container %s: no record in %s", ref, hits[0].Root)
		}
		s := containers.Summarize(hits[0].Root, hits[0].ID, rec)
		return writeJSON(c.App.Writer, inspected{Status: s.Status, Pid: s.Pid, Record: rec}, "  ")
	}
	pol, _, err := loadPolicy(c)
	if err != nil {
		return err
	}
	path := create.AuditLog(pol).Path
	n, err := containers.GrepAuditLog(c.App.Writer, path, ref)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("container %s: %w, and no record of it in %s", ref, libcontainer.ErrNotExist, path)
	}
	return nil
}
