package learn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/hardening"
)

// DefaultDir is where learned profiles are kept.
const DefaultDir = "/var/lib/hardened/profiles"

// DirEnv, when set, replaces DefaultDir (the test suites point it at a
// temporary directory).
const DirEnv = "HARDENED_PROFILES_DIR"

// profileVersion is the format of a profile file.
const profileVersion = 1

// maxArgValues is how many distinct values of one argument a profile
// keeps; past it the argument is recorded as "any value".
const maxArgValues = 64

// maxProfileSize bounds the profile file read.
const maxProfileSize = 4 << 20

// ErrCorrupt marks a profile file that cannot be used.
var ErrCorrupt = errors.New("corrupt learned profile")

// Profile is the learned profile of one workload: the system calls its
// containers made, merged over every run.
type Profile struct {
	// Version is the file format, 1.
	Version int `json:"version"`
	// Key is the workload key (hardening.LearnEntry).
	Key string `json:"key"`
	// Runs is how many recorders merged into the profile.
	Runs int `json:"runs"`
	// Updated is the time of the last merge, UTC.
	Updated time.Time `json:"updated"`
	// Syscalls maps each system call seen to what was seen of it.
	Syscalls map[string]*SyscallUse `json:"syscalls"`
}

// SyscallUse is what was recorded of one system call.
type SyscallUse struct {
	// Args maps an argument index to the distinct values seen there, for
	// the arguments the profile's rules filter on (sorted).
	Args map[uint][]uint64 `json:"args,omitempty"`
	// AnyArgs lists the argument indexes that took more than 64 distinct
	// values: any value counts as seen.
	AnyArgs []uint `json:"anyArgs,omitempty"`
}

// NewProfile returns an empty profile for key.
func NewProfile(key string) *Profile {
	return &Profile{Version: profileVersion, Key: key, Syscalls: map[string]*SyscallUse{}}
}

// Names returns the profile's system calls, sorted.
func (p *Profile) Names() []string {
	return slices.Sorted(maps.Keys(p.Syscalls))
}

// Add records one call of name; args are the call's six arguments and
// indexes the ones to keep.
func (p *Profile) Add(name string, indexes []uint, args [6]uint64) (added bool) {
	use, ok := p.Syscalls[name]
	if !ok {
		use = &SyscallUse{}
		p.Syscalls[name] = use
		added = true
	}
	for _, i := range indexes {
		if i >= 6 {
			continue
		}
		if use.addValue(i, args[i]) {
			added = true
		}
	}
	return added
}

// addValue records value v at argument index i; it reports whether that
// was new.
func (u *SyscallUse) addValue(i uint, v uint64) bool {
	if slices.Contains(u.AnyArgs, i) {
		return false
	}
	vals := u.Args[i]
	at, found := slices.BinarySearch(vals, v)
	if found {
		return false
	}
	if len(vals) >= maxArgValues {
		delete(u.Args, i)
		u.AnyArgs = append(u.AnyArgs, i)
		slices.Sort(u.AnyArgs)
		if len(u.Args) == 0 {
			u.Args = nil
		}
		return true
	}
	if u.Args == nil {
		u.Args = map[uint][]uint64{}
	}
	u.Args[i] = slices.Insert(vals, at, v)
	return true
}

// Merge adds every call and argument value of other to p.
func (p *Profile) Merge(other *Profile) {
	for name, use := range other.Syscalls {
		mine, ok := p.Syscalls[name]
		if !ok {
			mine = &SyscallUse{}
			p.Syscalls[name] = mine
		}
		for _, i := range use.AnyArgs {
			if !slices.Contains(mine.AnyArgs, i) {
				delete(mine.Args, i)
				mine.AnyArgs = append(mine.AnyArgs, i)
			}
		}
		slices.Sort(mine.AnyArgs)
		for i, vals := range use.Args {
			for _, v := range vals {
				mine.addValue(i, v)
			}
		}
		if len(mine.Args) == 0 {
			mine.Args = nil
		}
	}
}

// ParseProfile decodes a profile file strictly; name is used in errors,
// which wrap ErrCorrupt.
func ParseProfile(name string, data []byte) (*Profile, error) {
	p := &Profile{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", name, ErrCorrupt, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w: trailing data after the profile", name, ErrCorrupt)
	}
	if p.Version != profileVersion {
		return nil, fmt.Errorf("%s: %w: version %d, want %d", name, ErrCorrupt, p.Version, profileVersion)
	}
	if !hardening.ValidLearnKey(p.Key) {
		return nil, fmt.Errorf("%s: %w: key %q is not a workload key", name, ErrCorrupt, p.Key)
	}
	if p.Syscalls == nil {
		p.Syscalls = map[string]*SyscallUse{}
	}
	for n, use := range p.Syscalls {
		if !ValidSyscallName(n) {
			return nil, fmt.Errorf("%s: %w: %q is not a system call name", name, ErrCorrupt, n)
		}
		if use == nil {
			p.Syscalls[n] = &SyscallUse{}
			continue
		}
		for i, vals := range use.Args {
			if i >= 6 || !slices.IsSorted(vals) || len(vals) > maxArgValues {
				return nil, fmt.Errorf("%s: %w: %s: argument %d: bad index or values", name, ErrCorrupt, n, i)
			}
		}
	}
	return p, nil
}

// ValidSyscallName reports whether s looks like a system call name
// (lower-case letters, digits, "_"), as a profile file must hold.
func ValidSyscallName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// Store is a directory of profiles, one file <key>.json each.
type Store struct {
	// Dir is the directory.
	Dir string
}

// DefaultStore returns the store at DirEnv or DefaultDir.
func DefaultStore() Store {
	if d := os.Getenv(DirEnv); d != "" {
		return Store{Dir: d}
	}
	return Store{Dir: DefaultDir}
}

// Path is the file of key's profile.
func (s Store) Path(key string) string {
	return filepath.Join(s.Dir, key+".json")
}

// Load reads key's profile: nil and no error when there is none, an
// error wrapping ErrCorrupt when the file cannot be used.
func (s Store) Load(key string) (*Profile, error) {
	if !hardening.ValidLearnKey(key) {
		return nil, fmt.Errorf("learned profile %q: not a workload key", key)
	}
	path := s.Path(key)
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("learned profile %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxProfileSize+1))
	if err != nil {
		return nil, fmt.Errorf("learned profile %s: %w", path, err)
	}
	if len(data) > maxProfileSize {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", path, ErrCorrupt, maxProfileSize)
	}
	p, err := ParseProfile(path, data)
	if err != nil {
		return nil, err
	}
	if p.Key != key {
		return nil, fmt.Errorf("%s: %w: holds key %q", path, ErrCorrupt, p.Key)
	}
	return p, nil
}

// Merge adds seen to key's profile under the key's lock, counting one
// more run when newRun is set, and writes the file atomically (temporary
// file, fsync, rename, fsync of the directory). Concurrent recorders of
// one key serialize on the lock, so none loses another's calls. A corrupt
// file is left alone and reported.
func (s Store) Merge(key string, seen *Profile, newRun bool) error {
	return s.Update(key, func(p *Profile) error {
		p.Merge(seen)
		if newRun {
			p.Runs++
		}
		return nil
	})
}

// Update runs change on key's profile (a new one when there is none)
// under the key's lock and saves the result.
func (s Store) Update(key string, change func(*Profile) error) error {
	if !hardening.ValidLearnKey(key) {
		return fmt.Errorf("learned profile %q: not a workload key", key)
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("learned profiles: %w", err)
	}
	unlock, err := s.lock(key)
	if err != nil {
		return err
	}
	defer unlock()
	p, err := s.Load(key)
	if err != nil {
		return err
	}
	if p == nil {
		p = NewProfile(key)
	}
	if err := change(p); err != nil {
		return err
	}
	p.Updated = time.Now().UTC().Truncate(time.Second)
	return s.write(p)
}

// lock takes key's lock file (flock, released with the returned func).
func (s Store) lock(key string) (func(), error) {
	path := filepath.Join(s.Dir, "."+key+".lock")
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("learned profile %s: lock: %w", key, &os.PathError{Op: "open", Path: path, Err: err})
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("learned profile %s: lock %s: %w", key, path, err)
	}
	return func() { unix.Close(fd) }, nil
}

// write saves p atomically.
func (s Store) write(p *Profile) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("learned profile %s: %w", p.Key, err)
	}
	data = append(data, '\n')
	path := s.Path(p.Key)
	tmp, err := os.CreateTemp(s.Dir, "."+p.Key+".json.tmp*")
	if err != nil {
		return fmt.Errorf("learned profile %s: %w", p.Key, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("learned profile %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("learned profile %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("learned profile %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("learned profile %s: %w", path, err)
	}
	done = true
	if d, err := os.Open(s.Dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Keys lists the keys of the profiles in the store, sorted.
func (s Store) Keys() ([]string, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("learned profiles: %w", err)
	}
	var keys []string
	for _, e := range entries {
		key, ok := strings.CutSuffix(e.Name(), ".json")
		if ok && e.Type().IsRegular() && hardening.ValidLearnKey(key) {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// Delete removes key's profile under its lock; a missing one is an
// error wrapping os.ErrNotExist.
func (s Store) Delete(key string) error {
	if !hardening.ValidLearnKey(key) {
		return fmt.Errorf("learned profile %q: not a workload key", key)
	}
	unlock, err := s.lock(key)
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.Remove(s.Path(key)); err != nil {
		return fmt.Errorf("learned profile %s: %w", key, err)
	}
	return nil
}
