package hardening

import (
	"fmt"
	"path/filepath"
)

// DefaultAuditLogPath is where the audit record goes by default.
const DefaultAuditLogPath = "/var/log/hardened/audit.log"

// AuditLogPolicy configures the audit record (key "auditLog"): one JSON
// line per create, exec and refusal (package audit). Keys absent from the
// file keep their defaults.
type AuditLogPolicy struct {
	// Path is the log file; "" disables the file (the journal still gets
	// the record when Journal is true). Default DefaultAuditLogPath.
	Path string `json:"path"`
	// MaxSize is the size in bytes past which the file is rotated
	// (path.1, path.2, ...); 0 never rotates (use logrotate). Default 10
	// MiB.
	MaxSize int64 `json:"maxSize"`
	// Keep is how many rotated files are kept, 1 to 100. Default 5.
	Keep int `json:"keep"`
	// Journal also sends each record to systemd-journald when its socket
	// exists. Default true.
	Journal bool `json:"journal"`
}

// DefaultAuditLogPolicy returns the default of the "auditLog" key.
func DefaultAuditLogPolicy() AuditLogPolicy {
	return AuditLogPolicy{Path: DefaultAuditLogPath, MaxSize: 10 << 20, Keep: 5, Journal: true}
}

// minAuditLogSize is the smallest rotation size: a record is a few KB.
const minAuditLogSize = 64 << 10

func (a *AuditLogPolicy) normalize() error {
	if a.Path != "" {
		if !filepath.IsAbs(a.Path) {
			return fmt.Errorf("key \"auditLog.path\": %q is not an absolute path (\"\" disables the file)", a.Path)
		}
		a.Path = filepath.Clean(a.Path)
	}
	if a.MaxSize != 0 && a.MaxSize < minAuditLogSize {
		return fmt.Errorf("key \"auditLog.maxSize\": %d is below %d bytes (0 never rotates)", a.MaxSize, minAuditLogSize)
	}
	if a.Keep < 1 || a.Keep > 100 {
		return fmt.Errorf("key \"auditLog.keep\": %d is not from 1 to 100", a.Keep)
	}
	return nil
}
