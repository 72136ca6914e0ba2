package hardening

import (
	"errors"
	"strings"
	"testing"
)

func TestAuditLogPolicy(t *testing.T) {
	t.Parallel()
	if got := DefaultPolicy().AuditLog; DefaultAuditLogPath != "/var/log/hardened/audit.log" || got.Path != DefaultAuditLogPath || !got.Journal || got.Keep != 5 {
		t.Errorf("default auditLog %+v", got)
	}
	tests := []struct {
		json string
		want AuditLogPolicy
		err  string
	}{
		{`{}`, DefaultAuditLogPolicy(), ""},
		{`{"auditLog": {"path": "/srv/log//audit.log"}}`, AuditLogPolicy{Path: "/srv/log/audit.log", MaxSize: 10 << 20, Keep: 5, Journal: true}, ""},
		{`{"auditLog": {"path": "", "journal": false}}`, AuditLogPolicy{MaxSize: 10 << 20, Keep: 5}, ""},
		{`{"auditLog": {"maxSize": 0}}`, AuditLogPolicy{Path: DefaultAuditLogPath, Keep: 5, Journal: true}, ""},
		{`{"auditLog": {"path": "audit.log"}}`, AuditLogPolicy{}, `key "auditLog.path"`},
		{`{"auditLog": {"maxSize": 100}}`, AuditLogPolicy{}, `key "auditLog.maxSize"`},
		{`{"auditLog": {"keep": 0}}`, AuditLogPolicy{}, `key "auditLog.keep"`},
		{`{"auditLog": {"file": "/x"}}`, AuditLogPolicy{}, `unknown key "file"`},
		{`{"allowPrivileged": true}`, DefaultAuditLogPolicy(), ""},
	}
	for _, tt := range tests {
		p, err := ParsePolicy("test", []byte(tt.json))
		if tt.err != "" {
			if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err %v, want %q", tt.json, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.json, err)
			continue
		}
		if p.AuditLog != tt.want {
			t.Errorf("%s: auditLog %+v, want %+v", tt.json, p.AuditLog, tt.want)
		}
	}
}
