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

// containerRecord starts the audit record of event for the existing
// container ct under the state root root and its policy pol.
func containerRecord(ct *libcontainer.Container, root string, pol *hardening.Policy, event string) audit.Record {
	_, ann := utils.Annotations(ct.Config().Labels)
	return audit.Record{
		Time:     time.Now().UTC(),
		Event:    event,
		ID:       ct.ID(),
		Root:     root,
		Workload: audit.DescribeWorkload(root, ct.ID(), ann, ""),
		Mode:     pol.Mode,
		Level:    pol.Level,
	}
}

// writeRecord appends rec to pol's audit log; a failure is logged.
func writeRecord(pol *hardening.Policy, rec *audit.Record) {
	if err := create.AuditLog(pol).Write(rec); err != nil {
		logrus.Warnf("container %s: %v", rec.ID, err)
	}
}

// recordExec writes the audit record of a process exec'd into ct.
func recordExec(c *cli.Context, ct *libcontainer.Container, pol *hardening.Policy, p *specs.Process, rep *hardening.Report, err error) {
	root, _ := stateRoot(c)
	rec := containerRecord(ct, root, pol, audit.EventExec)
	rec.FromReport(rep)
	if err != nil {
		rec.Event = audit.EventError
		rec.Error = err.Error()
	}
	if len(p.Args) > 0 {
		rec.Notes = append(rec.Notes, hardening.Note{Rule: "exec", Message: fmt.Sprintf("args %q", p.Args)})
	}
	writeRecord(pol, &rec)
}
