package hardening

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// deviceSpec is a device class: type ("c", "b", or "a" for all), major and
// minor, -1 meaning any.
type deviceSpec struct {
	typ          string
	major, minor int64
}

// String renders d as "c 10:229", the allowDevices form.
func (d deviceSpec) String() string {
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	return fmt.Sprintf("%s %s:%s", d.typ, num(d.major), num(d.minor))
}

// covers reports whether d includes every device of o.
func (d deviceSpec) covers(o deviceSpec) bool {
	return (d.typ == "a" || d.typ == o.typ) &&
		(d.major < 0 || d.major == o.major) &&
		(d.minor < 0 || d.minor == o.minor)
}

// parseDeviceSpec parses the form String prints: a type (c, b, or a for
// all), then major:minor, each a number or * ("c 10:229", "c 136:*",
// "a *:*"). Every refusal's hint is therefore a valid allowDevices entry.
func parseDeviceSpec(s string) (deviceSpec, error) {
	typ, nums, ok := strings.Cut(s, " ")
	majS, minS, ok2 := strings.Cut(nums, ":")
	if !ok || !ok2 || (typ != "c" && typ != "b" && typ != "a") {
		return deviceSpec{}, fmt.Errorf("%q is not a device as \"c 10:229\" (type c, b or a, then major:minor, each a number or *)", s)
	}
	num := func(part, what string) (int64, error) {
		if part == "*" {
			return -1, nil
		}
		n, err := strconv.ParseInt(part, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: %s %q is not a number or *", s, what, part)
		}
		return n, nil
	}
	maj, err := num(majS, "major")
	if err != nil {
		return deviceSpec{}, err
	}
	minor, err := num(minS, "minor")
	if err != nil {
		return deviceSpec{}, err
	}
	return deviceSpec{typ: typ, major: maj, minor: minor}, nil
}

// standardDevices returns the devices every container gets: null, zero,
// full, random, urandom, tty, console, ptmx and the pty slaves.
func standardDevices() []deviceSpec {
	return []deviceSpec{
		{"c", 1, 3}, {"c", 1, 5}, {"c", 1, 7}, {"c", 1, 8}, {"c", 1, 9},
		{"c", 5, 0}, {"c", 5, 1}, {"c", 5, 2}, {"c", 136, -1},
	}
}

// standardCgroupDevices returns what the device cgroup may allow for read
// or write: the standard devices plus /dev/net/tun (10:200), which Docker
// allows by default (no node is created; it only works in the
// container's own network namespace).
func standardCgroupDevices() []deviceSpec {
	return append(standardDevices(), deviceSpec{"c", 10, 200})
}

// RefuseHostDevices is the host-devices rule.
//
// Threat: a device node is the hardware or kernel object itself: a disk
// (b 8:*) can be mounted or read raw, /dev/mem and /dev/kmsg expose the
// kernel. Docker's --privileged adds every host device and allows all in
// the device cgroup.
//
// Fields (read only): linux.devices (each node is judged by type and
// major:minor, not by its path, which the caller chooses freely) and
// linux.resources.devices (an allow rule granting read or write to more
// than the standard devices, e.g. "a" rwm, is refused; allow rules for
// mknod only, as Docker's "c *:* m", are fine).
//
// Relaxed by: "allowDevices" (e.g. "c 10:229" for /dev/fuse).
func RefuseHostDevices(s *specs.Spec, pol *Policy, _ HostFacts, r *Report) error {
	if s.Linux == nil {
		return nil
	}
	var allowed []deviceSpec
	for _, a := range pol.AllowDevices {
		if d, err := parseDeviceSpec(a); err == nil {
			allowed = append(allowed, d)
		}
	}
	ok := func(std []deviceSpec, d deviceSpec) bool {
		for _, a := range append(std, allowed...) {
			if a.covers(d) {
				return true
			}
		}
		return false
	}
	for _, d := range s.Linux.Devices {
		ds := deviceSpec{typ: d.Type, major: d.Major, minor: d.Minor}
		if d.Type == "u" {
			ds.typ = "c"
		}
		if !ok(standardDevices(), ds) {
			r.refuse(RuleHostDevices, fmt.Sprintf("host device %s (%s)", d.Path, ds),
				fmt.Sprintf(`"allowDevices": [%q]`, ds.String()))
		}
	}
	if s.Linux.Resources == nil {
		return nil
	}
	for _, d := range s.Linux.Resources.Devices {
		if !d.Allow || (d.Access != "" && !strings.ContainsAny(d.Access, "rw")) {
			continue
		}
		ds := deviceSpec{typ: d.Type, major: -1, minor: -1}
		if ds.typ == "" {
			ds.typ = "a"
		}
		if d.Major != nil {
			ds.major = *d.Major
		}
		if d.Minor != nil {
			ds.minor = *d.Minor
		}
		if !ok(standardCgroupDevices(), ds) {
			access := d.Access
			if access == "" {
				access = "rwm"
			}
			r.refuse(RuleHostDevices, fmt.Sprintf("device cgroup allows %s %s", ds, access),
				fmt.Sprintf(`"allowDevices": [%q]`, ds.String()))
		}
	}
	return nil
}
