package shim

import (
	"fmt"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/internal/audit"
	"github.com/hardened-runtime/hardened/internal/create"
)

// recordExec writes the audit record of a process exec'd into ct.
func recordExec(c *cli.Context, ct *libcontainer.Container, pol *hardening.Policy, p *specs.Process, rep *hardening.Report, err error) {
	root, _ := stateRoot(c)
	_, ann := utils.Annotations(ct.Config().Labels)
	rec := audit.Record{
		Time:     time.Now().UTC(),
		Event:    audit.EventExec,
		ID:       ct.ID(),
		Root:     root,
		Workload: audit.DescribeWorkload(root, ct.ID(), ann, ""),
		Mode:     pol.Mode,
		Level:    pol.Level,
	}
	rec.FromReport(rep)
	if err != nil {
		rec.Event = audit.EventError
		rec.Error = err.Error()
	}
	if len(p.Args) > 0 {
		rec.Notes = append(rec.Notes, hardening.Note{Rule: "exec", Message: fmt.Sprintf("args %q", p.Args)})
	}
	if werr := create.AuditLog(pol).Write(&rec); werr != nil {
		logrus.Warnf("container %s: %v", ct.ID(), werr)
	}
}
