package idmap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// DefaultRangeSize is the number of IDs a container gets: container IDs
// 0..65535, so that nobody (65534) and every ID an image uses are mapped.
const DefaultRangeSize = 65536

// MaxID is the highest valid uid/gid; 4294967295 is (uid_t)-1, "no ID".
const MaxID = 1<<32 - 2

// BuiltinPool is the pool used when the policy names none and the
// configured user has no /etc/subuid and /etc/subgid entries:
// 0x70000000..0x7FFDFFFF, 4094 ranges of 65536. It lies above the
// container range of systemd-nspawn (0x80000..0x6FFFFFFF) and the
// 100000+ ranges that useradd writes to /etc/subuid for Podman users,
// below systemd's "foreign" range (0x7FFE0000..0x7FFEFFFF), and below
// 2^31 so that no tool that treats IDs as signed 32-bit numbers sees a
// negative one.
func BuiltinPool() []Range {
	return []Range{{Start: 0x70000000, Size: 0x7FFE0000 - 0x70000000}}
}

// Range is a contiguous range of host IDs: Start..Start+Size-1.
type Range struct {
	Start uint32 `json:"start"`
	Size  uint32 `json:"size"`
}

// End returns the first ID after the range (as uint64: no overflow).
func (r Range) End() uint64 { return uint64(r.Start) + uint64(r.Size) }

// Overlaps reports whether r and o share an ID.
func (r Range) Overlaps(o Range) bool {
	return r.Size > 0 && o.Size > 0 && uint64(r.Start) < o.End() && uint64(o.Start) < r.End()
}

// Within reports whether every ID of r lies in o.
func (r Range) Within(o Range) bool {
	return r.Start >= o.Start && r.End() <= o.End()
}

// String renders the range as "start-last (size)".
func (r Range) String() string {
	if r.Size == 0 {
		return "empty"
	}
	return fmt.Sprintf("%d-%d", r.Start, r.End()-1)
}

// Validate checks that r is usable as a pool segment or an allocation:
// not empty, not containing host ID 0, not beyond MaxID.
func (r Range) Validate() error {
	switch {
	case r.Size == 0:
		return errors.New("empty range")
	case r.Start == 0:
		return fmt.Errorf("range %s contains host ID 0 (root)", r)
	case r.End()-1 > MaxID:
		return fmt.Errorf("range starting at %d with size %d goes beyond the highest ID %d", r.Start, r.Size, uint64(MaxID))
	}
	return nil
}

// WithinAny reports whether r lies entirely inside one of pool's ranges.
func WithinAny(r Range, pool []Range) bool {
	return slices.ContainsFunc(pool, func(p Range) bool { return r.Within(p) })
}

// SubIDRanges returns the ranges that the subordinate ID file at path
// (/etc/subuid or /etc/subgid, lines "name:start:count") gives user. A
// missing file gives none and no error.
func SubIDRanges(path, user string) ([]Range, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Range
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) != 3 || parts[0] != user {
			continue
		}
		start, err1 := strconv.ParseUint(parts[1], 10, 32)
		size, err2 := strconv.ParseUint(parts[2], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s:%d: malformed entry %q", path, n, line)
		}
		out = append(out, Range{Start: uint32(start), Size: uint32(size)})
	}
	return out, sc.Err()
}

// Intersect returns the IDs present in both a and b, as sorted ranges.
// Used to build a pool that serves uids and gids with the same numbers.
func Intersect(a, b []Range) []Range {
	var out []Range
	for _, x := range a {
		for _, y := range b {
			lo := max(uint64(x.Start), uint64(y.Start))
			hi := min(x.End(), y.End())
			if lo < hi {
				out = append(out, Range{Start: uint32(lo), Size: uint32(hi - lo)})
			}
		}
	}
	slices.SortFunc(out, func(p, q Range) int { return int(int64(p.Start) - int64(q.Start)) })
	return out
}

// Subtract returns the IDs of pool that lie in none of cut's ranges, in
// pool's order: a pool with the ranges others hold taken out.
func Subtract(pool, cut []Range) []Range {
	var out []Range
	for _, p := range pool {
		rest := []Range{p}
		for _, c := range cut {
			var next []Range
			for _, r := range rest {
				if !r.Overlaps(c) {
					next = append(next, r)
					continue
				}
				if uint64(r.Start) < uint64(c.Start) {
					next = append(next, Range{Start: r.Start, Size: c.Start - r.Start})
				}
				if c.End() < r.End() {
					next = append(next, Range{Start: uint32(c.End()), Size: uint32(r.End() - c.End())})
				}
			}
			rest = next
		}
		out = append(out, rest...)
	}
	return out
}

// PoolSource says where a pool came from, for reports and errors.
type PoolSource string

// Pool sources.
const (
	SourcePolicy  PoolSource = "policy"
	SourceSubID   PoolSource = "subid"
	SourceBuiltin PoolSource = "builtin"
)

// ResolvePool picks the pool: explicit when not empty (the policy's
// "pool"), else the IDs that both subuid and subgid files give user (as
// Podman and the kubelet use), else BuiltinPool. Host ID 0 is cut out of
// whatever comes from the files. It is an error when the files name the
// user but share no IDs between uids and gids.
func ResolvePool(explicit []Range, subuid, subgid, user string) ([]Range, PoolSource, error) {
	if len(explicit) > 0 {
		for _, r := range explicit {
			if err := r.Validate(); err != nil {
				return nil, "", fmt.Errorf("pool: %w", err)
			}
		}
		return explicit, SourcePolicy, nil
	}
	if user != "" {
		u, err := SubIDRanges(subuid, user)
		if err != nil {
			return nil, "", err
		}
		g, err := SubIDRanges(subgid, user)
		if err != nil {
			return nil, "", err
		}
		if len(u) > 0 || len(g) > 0 {
			pool := Intersect(u, g)
			for i := range pool {
				if pool[i].Start == 0 {
					pool[i].Start, pool[i].Size = 1, pool[i].Size-1
				}
			}
			pool = slices.DeleteFunc(pool, func(r Range) bool { return r.Size == 0 })
			if len(pool) == 0 {
				return nil, "", fmt.Errorf("%s and %s give user %q no IDs in common (uids and gids are mapped with the same numbers)", subuid, subgid, user)
			}
			return pool, SourceSubID, nil
		}
	}
	return BuiltinPool(), SourceBuiltin, nil
}
