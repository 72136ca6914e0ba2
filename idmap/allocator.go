package idmap

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// StateName is the registry file of the previous format (every entry in
// one JSON file, rewritten whole), read and moved into entry files
// (EntriesName) by the first update; LockName is the lock file.
const (
	StateName = "idmap.json"
	LockName  = "idmap.lock"
)

// RegistryDir holds the host-wide registry of ID ranges (StateName,
// LockName), whatever the runtime's --root: Docker and containerd each pass
// their own root, and a range must not be handed out twice on one host. It
// is also the default --root, whose version-1 file (keys without a root)
// the registry reads as its own.
const RegistryDir = "/run/hardened"

// registryVersion is the state file's format: version 2 keys entries by
// container state directory (Key); version 1 keyed them by container ID
// within one root.
const registryVersion = 2

// ErrExhausted means every range of the pool is held by a live container.
var ErrExhausted = errors.New("user namespace ID pool exhausted")

// ErrHeld means a user namespace a container joins or was given by its
// caller maps host IDs that another live container holds.
var ErrHeld = errors.New("host IDs held by another container")

// ErrInUse means the container ID already holds a range for a container
// that still exists (or is being created by a live process).
var ErrInUse = errors.New("container already holds an ID range")

// Entry is one allocation in the state file.
type Entry struct {
	Range
	// Pid and PidStart identify the runtime process that allocated the
	// range (start time in clock ticks since boot, from /proc/<pid>/stat),
	// so that a create in progress, whose state directory does not exist
	// yet, is not reclaimed, while one killed mid-create is.
	Pid      int    `json:"pid"`
	PidStart uint64 `json:"pidStart"`
	// PidIno is the creator's pidfs inode number (fstat of a pidfd,
	// Linux 6.9+), which no other process of the boot has: live asks a
	// pidfd for it (~9 µs) rather than reading /proc/<pid>/stat (~25 µs,
	// for every entry of a create in progress, on every allocation). 0:
	// not known (an older kernel, or an entry of an older version, which
	// ignores it); PidStart is compared then.
	PidIno uint64 `json:"pidIno,omitempty"`
	// Reserved marks a mapping the runtime did not choose but accepted (a
	// user namespace joined by path, a caller's mapping): Range and Also
	// are recorded so that no allocation overlaps them; they need not lie
	// in the pool.
	Reserved bool `json:"reserved,omitempty"`
	// Also holds further ranges of a reservation (a namespace whose uid
	// and gid mappings differ, or map several ranges).
	Also []Range `json:"also,omitempty"`
	// Shares is the key of the container whose user namespace this one
	// joined, or an engine's remap range (EngineRangeKey) that the
	// engine's containers share: their ranges overlap by design.
	Shares string `json:"shares,omitempty"`
}

// EngineRangeKey is what the reservations of an engine's containers
// share (Entry.Shares) when the engine maps all of them to the
// subordinate IDs of one user (dockerd --userns-remap=<user>): they may
// overlap each other, and no other container's range. It names no
// container.
func EngineRangeKey(user string) string { return "userns-remap:" + user }

// Holds returns every host range the entry holds.
func (e Entry) Holds() []Range { return append([]Range{e.Range}, e.Also...) }

// state is the JSON form of the state file.
type state struct {
	Version int              `json:"version"`
	Ranges  map[string]Entry `json:"ranges"`
	// known holds, by key, whether the container of an entry was live
	// when the entry was read before the lock (see update), for the
	// entries whose file has not changed since; reclaim asks live for
	// the others.
	known map[string]bool
}

// Allocator hands out ID ranges. Its zero value is not usable: set Dir,
// Pool and RangeSize.
type Allocator struct {
	// Dir holds the state and lock files (RegistryDir for the host
	// registry).
	Dir string
	// Pool is where ranges are taken from. Ranges start at multiples of
	// RangeSize from the start of a pool segment.
	Pool []Range
	// RangeSize is the number of IDs per container.
	RangeSize uint32
	// Exists reports whether the container of a key still exists (its
	// state directory is there). nil: every entry whose creator is gone is
	// reclaimed.
	Exists func(key string) bool
	// HostWide marks the host registry: keys are container state
	// directories (Key), a version-1 file in Dir is read as the entries of
	// the root Dir, and a root's own version-1 file (<root>/idmap.json,
	// written before the registry was host-wide) is moved into the
	// registry by the first update that names a key of that root.
	HostWide bool
}

// Key names container id of the runtime root root in the host registry:
// its state directory. Container IDs are unique only within a root.
func Key(root, id string) string { return filepath.Join(root, id) }

// NewHostAllocator returns the host-wide registry (RegistryDir), whose
// keys are container state directories (Key) and whose containers exist
// while those do.
func NewHostAllocator(pool []Range, rangeSize uint32) *Allocator {
	return &Allocator{
		Dir:       RegistryDir,
		Pool:      pool,
		RangeSize: rangeSize,
		Exists: func(key string) bool {
			_, err := os.Lstat(key)
			return err == nil
		},
		HostWide: true,
	}
}

// NewAllocator returns an allocator kept in dir whose keys are container
// IDs of the root dir, existing while dir/<id> does: one root's view, for
// tests and tools. The runtime uses NewHostAllocator.
func NewAllocator(dir string, pool []Range, rangeSize uint32) *Allocator {
	return &Allocator{
		Dir:       dir,
		Pool:      pool,
		RangeSize: rangeSize,
		Exists: func(id string) bool {
			_, err := os.Lstat(filepath.Join(dir, id))
			return err == nil
		},
	}
}

// Allocate gives container id a range. When want is inside the pool, free
// and of RangeSize, that range is taken (a caller's own mapping is kept);
// otherwise the lowest free slot is. It fails with ErrInUse when id already
// holds a range and its container exists or its creator still runs, and
// with ErrExhausted when no slot is free. Stale entries are reclaimed first.
func (a *Allocator) Allocate(id string, want *Range) (Range, error) {
	if err := a.check(); err != nil {
		return Range{}, err
	}
	var got Range
	err := a.update(func(st *state, legacy *[]string) error {
		*legacy = append(*legacy, a.importLegacy(st, id)...)
		a.reclaim(st)
		if e, ok := st.Ranges[id]; ok {
			if a.live(id, e) {
				return fmt.Errorf("container %s: %w %s (allocated by pid %d)", id, ErrInUse, e.Range, e.Pid)
			}
			delete(st.Ranges, id)
		}
		taken := make([]Range, 0, len(st.Ranges))
		for _, e := range st.Ranges {
			taken = append(taken, e.Holds()...)
		}
		free := func(r Range) bool {
			return !slices.ContainsFunc(taken, func(t Range) bool { return t.Overlaps(r) })
		}
		switch {
		case want != nil && want.Size == a.RangeSize && want.Validate() == nil && WithinAny(*want, a.Pool) && free(*want):
			got = *want
		default:
			var ok bool
			if got, ok = a.firstFree(free); !ok {
				return fmt.Errorf("container %s: %w: %d containers hold all %d ranges of %d IDs in %s; delete containers or widen \"userNamespace.pool\"",
					id, ErrExhausted, len(st.Ranges), a.capacity(), a.RangeSize, poolString(a.Pool))
			}
		}
		e := Entry{Range: got, Pid: os.Getpid()}
		e.PidStart, _ = procStart(e.Pid)
		e.PidIno, _ = pidfsIno(e.Pid)
		st.Ranges[id] = e
		return nil
	})
	return got, err
}

// Reserve records that container key holds ranges it did not get from
// Allocate: the mapping of a user namespace it joins, or a caller's mapping
// kept as is. shares is the key of the container whose user namespace it
// joins, "" for none: the ranges may overlap that container's and those of
// others sharing with it, and no other entry's (ErrHeld). It fails with
// ErrInUse like Allocate.
func (a *Allocator) Reserve(key string, ranges []Range, shares string) error {
	if len(ranges) == 0 {
		return fmt.Errorf("container %s: idmap: nothing to reserve", key)
	}
	for _, r := range ranges {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("container %s: idmap: %w", key, err)
		}
	}
	return a.update(func(st *state, legacy *[]string) error {
		*legacy = append(*legacy, a.importLegacy(st, key)...)
		a.reclaim(st)
		if e, ok := st.Ranges[key]; ok {
			if a.live(key, e) {
				return fmt.Errorf("container %s: %w %s (allocated by pid %d)", key, ErrInUse, e.Range, e.Pid)
			}
			delete(st.Ranges, key)
		}
		for k, e := range st.Ranges {
			if shares != "" && (k == shares || e.Shares == shares) {
				continue
			}
			for _, held := range e.Holds() {
				if slices.ContainsFunc(ranges, held.Overlaps) {
					return fmt.Errorf("container %s: user namespace maps host IDs %s: %w: %s", key, held, ErrHeld, k)
				}
			}
		}
		e := Entry{Range: ranges[0], Also: slices.Clone(ranges[1:]), Reserved: true, Shares: shares, Pid: os.Getpid()}
		e.PidStart, _ = procStart(e.Pid)
		e.PidIno, _ = pidfsIno(e.Pid)
		st.Ranges[key] = e
		return nil
	})
}

// Release returns id's range to the pool (or drops its reservation).
// Releasing an ID that holds none is not an error. It unlinks id's entry
// file under the lock and reads no other, unless a registry file of the
// previous format is left to move (then it goes through update).
func (a *Allocator) Release(id string) error {
	unlock, err := a.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if a.legacyLeft(id) {
		return a.updateLocked(nil, func(st *state, legacy *[]string) error {
			*legacy = append(*legacy, a.importLegacy(st, id)...)
			if _, ok := st.Ranges[id]; !ok {
				return errUnchanged
			}
			delete(st.Ranges, id)
			return nil
		})
	}
	path := filepath.Join(a.entriesDir(), entryFileName(id))
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		// A read-only file system refuses before it looks: releasing
		// nothing there is fine.
		if _, serr := os.Lstat(path); errors.Is(serr, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("idmap: %w", err)
	}
	return nil
}

// legacyLeft reports whether a registry file of the previous format is
// there for an update naming key to move: StateName in Dir, or the one
// of key's root (see importLegacy).
func (a *Allocator) legacyLeft(key string) bool {
	if _, err := os.Lstat(filepath.Join(a.Dir, StateName)); err == nil {
		return true
	}
	root := filepath.Dir(key)
	if !a.HostWide || !filepath.IsAbs(key) || root == filepath.Clean(a.Dir) {
		return false
	}
	_, err := os.Lstat(filepath.Join(root, StateName))
	return err == nil
}

// errUnchanged from an update function means there is nothing to write.
var errUnchanged = errors.New("unchanged")

// Lookup returns the range id holds, if any. It reads id's entry file
// alone (and the registry file of the previous format if there is one),
// without the lock: files are replaced by rename, so each is whole.
func (a *Allocator) Lookup(id string) (Range, bool, error) {
	name := entryFileName(id)
	path := filepath.Join(a.entriesDir(), name)
	data, err := os.ReadFile(path)
	if err == nil {
		f, err := parseEntryFile(path, name, data)
		if err != nil {
			return Range{}, false, err
		}
		return f.Range, true, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return Range{}, false, fmt.Errorf("idmap: %w", err)
	}
	old, err := a.readLegacy()
	if err != nil || old == nil {
		return Range{}, false, err
	}
	e, ok := old.Ranges[id]
	return e.Range, ok, nil
}

// Holds reports whether id has an entry (a range or a reservation)
// without decoding it: its entry file is there, or the registry file of
// the previous format names it. Release's caller asks this rather than
// Lookup: delete decodes no JSON for it.
func (a *Allocator) Holds(id string) (bool, error) {
	_, err := os.Lstat(filepath.Join(a.entriesDir(), entryFileName(id)))
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("idmap: %w", err)
	}
	old, err := a.readLegacy()
	if err != nil || old == nil {
		return false, err
	}
	_, ok := old.Ranges[id]
	return ok, nil
}

// Reclaim drops the entries of containers that no longer exist and whose
// creator is gone. Allocate does it too; this is for tests and tools.
func (a *Allocator) Reclaim() error {
	return a.update(func(st *state, _ *[]string) error {
		a.reclaim(st)
		return nil
	})
}

// Entries returns a copy of the current allocations.
func (a *Allocator) Entries() (map[string]Entry, error) {
	st, err := a.read()
	if err != nil {
		return nil, err
	}
	return st.Ranges, nil
}

func (a *Allocator) check() error {
	if a.RangeSize == 0 {
		return errors.New("idmap: range size is 0")
	}
	if len(a.Pool) == 0 {
		return errors.New("idmap: empty pool")
	}
	for _, r := range a.Pool {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("idmap: pool: %w", err)
		}
	}
	return nil
}

func (a *Allocator) reclaim(st *state) {
	for id, e := range st.Ranges {
		live, ok := st.known[id]
		if !ok {
			live = a.live(id, e)
		}
		if !live {
			delete(st.Ranges, id)
		}
	}
}

// live reports whether an entry still belongs to a container: its state
// directory exists, or its creator is still running (a create in
// progress). A container killed with kill -9 keeps its state directory
// and its range until delete; a runtime killed mid-create, or a reboot
// (the root is on tmpfs), leaves neither. The creator is known by its
// pidfs inode number when the entry has one (a creator that exited but
// is not reaped yet then still counts, a while longer), else by its
// start time (a zombie counts as gone).
func (a *Allocator) live(id string, e Entry) bool {
	if a.Exists != nil && a.Exists(id) {
		return true
	}
	if e.Pid <= 0 {
		return false
	}
	if e.PidIno != 0 {
		ino, err := pidfsIno(e.Pid)
		if err == nil || errors.Is(err, unix.ESRCH) {
			return err == nil && ino == e.PidIno
		}
	}
	start, err := procStart(e.Pid)
	return err == nil && start == e.PidStart
}

func (a *Allocator) firstFree(free func(Range) bool) (Range, bool) {
	for _, p := range a.Pool {
		for off := uint64(0); off+uint64(a.RangeSize) <= uint64(p.Size); off += uint64(a.RangeSize) {
			r := Range{Start: p.Start + uint32(off), Size: a.RangeSize}
			if free(r) {
				return r, true
			}
		}
	}
	return Range{}, false
}

func (a *Allocator) capacity() uint64 {
	var n uint64
	for _, p := range a.Pool {
		n += uint64(p.Size) / uint64(a.RangeSize)
	}
	return n
}

func poolString(pool []Range) string {
	parts := make([]string, 0, len(pool))
	for _, p := range pool {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ",")
}

// importLegacy adds to st the entries of the version-1 file of key's root
// (<root>/idmap.json, keyed by container ID, written by a runtime whose
// allocator lived under --root) and returns the files to remove once st is
// written. Entries already in the registry win.
func (a *Allocator) importLegacy(st *state, key string) []string {
	root := filepath.Dir(key)
	if !a.HostWide || !filepath.IsAbs(key) || root == filepath.Clean(a.Dir) {
		return nil
	}
	path := filepath.Join(root, StateName)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var old state
	if len(data) > 0 && json.Unmarshal(data, &old) == nil && old.Version < registryVersion {
		for id, e := range old.Ranges {
			if _, ok := st.Ranges[Key(root, id)]; !ok && !strings.Contains(id, "/") {
				st.Ranges[Key(root, id)] = e
			}
		}
	}
	return []string{path, filepath.Join(root, LockName)}
}

// update runs fn on the state under the lock and writes what it changed:
// one file per entry (see EntriesDir), created for a new entry and
// unlinked for a released one, so a release needs no free space. A
// registry file of the previous format (StateName, one JSON file) is
// moved into entry files by the first update, which needs space once. fn
// gets the legacy files to remove after the write through its second
// argument.
//
// Every entry file is read and judged (is its container live?) before
// the lock is taken; under the lock each file is read again but only
// compared with what was read before, and only one that changed is
// decoded and judged there. The lock is host-wide: with 50 parallel
// creates, a holder that decoded 50 JSON files and looked up 50 state
// directories and creator processes (1-3 ms) was often preempted while
// holding it, and every other create waited. A verdict from before the
// lock holds for unchanged bytes: an entry whose container was gone (no
// state directory, creator exited) is rewritten, never revived, by a new
// create of its key (another creator PID and start time); one that was
// live is kept, as if the lock had been taken then.
func (a *Allocator) update(fn func(st *state, legacy *[]string) error) error {
	seen := a.readBeforeLock(a.entriesDir())
	unlock, err := a.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return a.updateLocked(seen, fn)
}

// updateLocked is update once the lock is held; seen is what
// readBeforeLock found (nil: nothing).
func (a *Allocator) updateLocked(seen map[string]seenEntry, fn func(st *state, legacy *[]string) error) error {
	dir := a.entriesDir()
	onDisk, known, err := a.readEntryFiles(dir, seen, true)
	if err != nil {
		return err
	}
	st := &state{Version: registryVersion, Ranges: maps.Clone(onDisk), known: known}
	var legacy []string
	if old, err := a.readLegacy(); err != nil {
		return err
	} else if old != nil {
		for k, e := range old.Ranges {
			if _, ok := st.Ranges[k]; !ok {
				st.Ranges[k] = e
			}
		}
		legacy = append(legacy, filepath.Join(a.Dir, StateName))
	}
	if err := fn(st, &legacy); errors.Is(err, errUnchanged) && len(legacy) == 0 {
		return nil
	} else if err != nil && !errors.Is(err, errUnchanged) {
		return err
	}
	var errs []error
	// Releases first: they need no space, and free it.
	for k := range onDisk {
		if _, ok := st.Ranges[k]; !ok {
			if err := os.Remove(filepath.Join(dir, entryFileName(k))); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	for k, e := range st.Ranges {
		if old, ok := onDisk[k]; ok && reflect.DeepEqual(old, e) {
			continue
		}
		if err := a.writeEntry(dir, k, e); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		for _, path := range legacy {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("idmap: %w", err)
	}
	return nil
}

// EntriesName is the directory in the allocator's Dir that holds one file
// per entry. Its leading dot keeps it apart from container state
// directories (a container ID starts with a letter or digit).
const EntriesName = ".idmap"

// entryFile is the JSON form of one entry file.
type entryFile struct {
	Key string `json:"key"`
	Entry
}

func (a *Allocator) entriesDir() string { return filepath.Join(a.Dir, EntriesName) }

// entryFileName names key's entry file: a digest, as keys are paths.
func entryFileName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16]) + ".json"
}

// tempPrefix starts the name of an entry file being written.
const tempPrefix = ".tmp-"

// writeEntry writes key's entry file: to a temporary name, renamed into
// place, so a reader never sees a torn entry. Not fsynced: entries only
// matter while their containers run, and none survives a reboot.
func (a *Allocator) writeEntry(dir, key string, e Entry) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	data, err := json.Marshal(entryFile{Key: key, Entry: e})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, tempPrefix)
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), filepath.Join(dir, entryFileName(key)))
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
	}
	return werr
}

// seenEntry is an entry file as readBeforeLock found it: its bytes, what
// they say, and whether its container was live then.
type seenEntry struct {
	data  []byte
	entry entryFile
	live  bool
}

// readBeforeLock reads and judges every entry file without the lock, for
// update (see there). A file it cannot read or decode is left out: the
// read under the lock decides about it.
func (a *Allocator) readBeforeLock(dir string) map[string]seenEntry {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	seen := make(map[string]seenEntry, len(names))
	buf := make([]byte, 0, 1024)
	for _, name := range names {
		if !isEntryFileName(name) {
			continue
		}
		data, err := readAt(int(d.Fd()), name, buf[:0])
		if err != nil {
			continue
		}
		buf = data
		f, err := parseEntryFile(name, name, data)
		if err != nil {
			continue
		}
		seen[name] = seenEntry{data: slices.Clone(data), entry: f, live: a.live(f.Key, f.Entry)}
	}
	return seen
}

// readEntries reads the entry files.
func (a *Allocator) readEntries(dir string) (map[string]Entry, error) {
	out, _, err := a.readEntryFiles(dir, nil, false)
	return out, err
}

// readEntryFiles reads the entry files of dir. A file whose bytes are
// those seen (readBeforeLock) is not decoded again, and its container's
// liveness then is returned in known, by key. underLock removes the
// temporary files that a writer killed mid-write left: only a holder of
// the lock writes, so under the lock every one is stale.
func (a *Allocator) readEntryFiles(dir string, seen map[string]seenEntry, underLock bool) (map[string]Entry, map[string]bool, error) {
	out, known := map[string]Entry{}, map[string]bool{}
	d, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return out, known, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("idmap: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, nil, fmt.Errorf("idmap: %s: %w", dir, err)
	}
	fd := int(d.Fd())
	buf := make([]byte, 0, 1024)
	for _, name := range names {
		if underLock && strings.HasPrefix(name, tempPrefix) {
			_ = unix.Unlinkat(fd, name, 0)
			continue
		}
		if !isEntryFileName(name) {
			continue
		}
		data, err := readAt(fd, name, buf[:0])
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("idmap: %s: %w", filepath.Join(dir, name), err)
		}
		buf = data
		if s, ok := seen[name]; ok && bytes.Equal(s.data, data) {
			out[s.entry.Key] = s.entry.Entry
			known[s.entry.Key] = s.live
			continue
		}
		f, err := parseEntryFile(filepath.Join(dir, name), name, data)
		if err != nil {
			return nil, nil, err
		}
		out[f.Key] = f.Entry
	}
	return out, known, nil
}

// isEntryFileName reports whether a name in the entries directory is an
// entry file's (not a temporary file's).
func isEntryFileName(name string) bool {
	return strings.HasSuffix(name, ".json") && !strings.HasPrefix(name, ".")
}

// parseEntryFile decodes the entry file name (at path, for errors) and
// checks that it is the file of the key it holds.
func parseEntryFile(path, name string, data []byte) (entryFile, error) {
	var f entryFile
	if err := json.Unmarshal(data, &f); err != nil || f.Key == "" || entryFileName(f.Key) != name {
		return entryFile{}, fmt.Errorf("idmap: %s: not an entry file (%v)", path, err)
	}
	return f, nil
}

// readAt appends to buf the content of the file name in the directory
// dirfd.
func readAt(dirfd int, name string, buf []byte) ([]byte, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 1024)
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: name, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// lock takes the exclusive flock on the lock file. A registry on a
// read-only file system is locked through a read-only descriptor, so that
// what can be read is read consistently.
func (a *Allocator) lock() (func(), error) {
	if err := os.MkdirAll(a.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("idmap: %w", err)
	}
	path := filepath.Join(a.Dir, LockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if errors.Is(err, unix.EROFS) || errors.Is(err, unix.EACCES) {
		f, err = os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("idmap: lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("idmap: lock %s: %w", path, err)
	}
	return func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// read returns the entries without the lock: files are replaced by
// rename, so each is whole. Entries of a registry file of the previous
// format not yet moved are included.
func (a *Allocator) read() (*state, error) {
	ranges, err := a.readEntries(a.entriesDir())
	if err != nil {
		return nil, err
	}
	st := &state{Version: registryVersion, Ranges: ranges}
	old, err := a.readLegacy()
	if err != nil {
		return nil, err
	}
	if old != nil {
		for k, e := range old.Ranges {
			if _, ok := st.Ranges[k]; !ok {
				st.Ranges[k] = e
			}
		}
	}
	return st, nil
}

// readLegacy reads the registry file of the previous format (StateName in
// Dir: every entry in one JSON file), nil if there is none.
func (a *Allocator) readLegacy() (*state, error) {
	path := filepath.Join(a.Dir, StateName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("idmap: %w", err)
	}
	st := &state{Version: registryVersion, Ranges: map[string]Entry{}}
	if len(data) == 0 {
		return st, nil
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("idmap: %s: %w", path, err)
	}
	if st.Ranges == nil {
		st.Ranges = map[string]Entry{}
	}
	if a.HostWide {
		// A key that is a bare container ID is of the root Dir: a
		// version-1 file there was that root's allocator (and an earlier
		// version run with that root writes such keys).
		for id, e := range st.Ranges {
			if !filepath.IsAbs(id) {
				delete(st.Ranges, id)
				st.Ranges[Key(a.Dir, id)] = e
			}
		}
	}
	st.Version = registryVersion
	return st, nil
}

// procStart returns the start time of pid in clock ticks since boot
// (field 22 of /proc/<pid>/stat), which tells a reused PID apart. A zombie
// counts as gone.
func procStart(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(data)
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); starttime is field 22.
	if len(fields) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	if fields[0] == "Z" || fields[0] == "X" {
		return 0, fmt.Errorf("pid %d has exited", pid)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// pidfsMagic is the file system type of pidfds on Linux 6.9+ (pidfs),
// whose inode numbers are unique among the processes of one boot; the
// anonymous inode of older pidfds is one for all.
const pidfsMagic = 0x50494446

// pidfsIno returns pid's pidfs inode number. It fails with ESRCH when no
// process has the PID, and with another error when pidfds are not pidfs
// (Linux before 6.9) or cannot be opened.
func pidfsIno(pid int) (uint64, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return 0, err
	}
	if fs.Type != pidfsMagic {
		return 0, fmt.Errorf("pidfd of %d: file system %#x is not pidfs", pid, fs.Type)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// ProcessStartTime returns the start time of pid in clock ticks since
// boot (field 22 of /proc/<pid>/stat, libcontainer's init_process_start),
// which tells a reused PID apart; a zombie counts as gone.
func ProcessStartTime(pid int) (uint64, error) { return procStart(pid) }
