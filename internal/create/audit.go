package create

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/internal/audit"
	"github.com/hardened-runtime/hardened/spec"
)

// auditLogEnv, when set, replaces the policy's "auditLog.path" (the test
// suites point it at a temporary file; "" there disables the file).
const auditLogEnv = "HARDENED_AUDIT_LOG"

// AuditLog returns where the records of a container under pol go.
func AuditLog(pol *hardening.Policy) audit.Log {
	l := audit.Log{Path: pol.AuditLog.Path, MaxSize: pol.AuditLog.MaxSize, Keep: pol.AuditLog.Keep}
	if p, ok := os.LookupEnv(auditLogEnv); ok {
		l.Path = p
	}
	if pol.AuditLog.Journal {
		l.JournalSocket = audit.JournalSocket
	}
	return l
}

// createAudit collects what the audit record of one create needs while
// the create is hardened and converted; write sends it.
type createAudit struct {
	rec audit.Record
	log audit.Log
}

// newCreateAudit starts the record of container id of root.
func newCreateAudit(pol *hardening.Policy, polPath, root, id string, bundle *spec.Bundle) *createAudit {
	a := &createAudit{log: AuditLog(pol)}
	a.rec = audit.Record{
		Event:    audit.EventCreate,
		ID:       id,
		Root:     root,
		Bundle:   bundle.Dir,
		Workload: audit.DescribeWorkload(root, id, bundle.Spec.Annotations, ""),
		Policy:   polPath,
		Mode:     pol.Mode,
		Level:    pol.Level,
	}
	return a
}

// label names the container in messages: its ID and, when known, its pod,
// name and image.
func (a *createAudit) label() string {
	if w := a.rec.Workload.String(); w != "" {
		return a.rec.ID + " (" + w + ")"
	}
	return a.rec.ID
}

// dockerFacts completes the workload from Docker's state once the rules
// found Docker's data root.
func (a *createAudit) dockerFacts(s *specs.Spec, facts hardening.HostFacts) {
	if a.rec.Engine != audit.EngineDocker {
		return
	}
	root := facts.DockerRoot
	if root == "" {
		root = hardening.DockerRootOf(s, facts, a.rec.ID)
	}
	if root != "" {
		a.rec.Workload = audit.DescribeWorkload(a.rec.Root, a.rec.ID, s.Annotations, root)
	}
}

// write finishes the record with the report and the outcome, prints the
// warnings on stderr and appends the record. A log that cannot be written
// is a warning, not a failed create: the log line of the runtime's --log
// still has the summary.
func (a *createAudit) write(rep *hardening.Report, err error) {
	a.rec.Time = time.Now().UTC()
	a.rec.FromReport(rep)
	switch {
	case errors.Is(err, hardening.ErrRefused):
		a.rec.Event = audit.EventRefused
	case err != nil:
		a.rec.Event = audit.EventError
	}
	if err != nil {
		a.rec.Error = err.Error()
	}
	if rep != nil {
		prefix := ""
		if rep.Mode == hardening.ModeAudit {
			prefix = "audit mode, not applied: "
		}
		for _, w := range rep.Warnings {
			fmt.Fprintf(os.Stderr, "hardened: warning: container %s: %s%s (rule %s)\n", a.label(), prefix, w.Message, w.Rule)
			logrus.Warnf("container %s: %s%s (rule %s)", a.rec.ID, prefix, w.Message, w.Rule)
		}
	}
	if werr := a.log.Write(&a.rec); werr != nil {
		logrus.Warnf("container %s: %v", a.rec.ID, werr)
	}
}

// RecordFile is the copy of a container's create record kept in its state
// directory, for `ps` without an ID and `inspect`.
const RecordFile = "hardened-record.json"

// saveRecord keeps rec in the state directory of container id (written
// to a temporary file, then renamed).
func saveRecord(root, id string, rec *audit.Record) error {
	if rec == nil {
		return nil
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	dir := filepath.Join(root, id)
	tmp, err := os.CreateTemp(dir, "."+RecordFile+"-*")
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("record: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, RecordFile)); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	return nil
}

// LoadRecord reads the record kept for container id of root; nil when
// there is none (a container created by another runtime, or before
// records were kept).
func LoadRecord(root, id string) (*audit.Record, error) {
	data, err := os.ReadFile(filepath.Join(root, id, RecordFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rec := new(audit.Record)
	if err := json.Unmarshal(data, rec); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(root, id, RecordFile), err)
	}
	return rec, nil
}
