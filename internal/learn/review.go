package learn

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/internal/audit"
)

// Counts returns how many system calls p allows once enforced
// (within the policy's profile), how many the policy's profile allows,
// and how many Docker's default profile allows, counting the names of
// this machine's ABI only.
func Counts(p *Profile, pol *hardening.Policy) (enforced, policy, docker int, err error) {
	base, err := PolicyProfile(pol)
	if err != nil {
		return 0, 0, 0, err
	}
	dock, err := DockerDefault()
	if err != nil {
		return 0, 0, 0, err
	}
	enforced = len(NativeNames(AllowedSpecNames(Export(p, base))))
	policy = len(NativeNames(AllowedSpecNames(base)))
	docker = len(NativeNames(AllowedSpecNames(dock)))
	return enforced, policy, docker, nil
}

// AuditDenials returns the system calls the audit file at path records
// as denied for profile key.
func AuditDenials(path, key string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit record: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		var rec audit.Record
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Event != audit.EventSyscallDenied || rec.Profile != key {
			continue
		}
		if !slices.Contains(out, rec.Syscall) {
			out = append(out, rec.Syscall)
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("audit record %s: %w", path, err)
	}
	return out, nil
}

// MustLoad is Load for a profile that must exist: a missing one is an
// error naming its file.
func (s Store) MustLoad(key string) (*Profile, error) {
	p, err := s.Load(key)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("learned profile %s: %w (%s)", key, os.ErrNotExist, s.Path(key))
	}
	return p, nil
}
