package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"strings"
)

// Bridge is a Linux bridge of a test's own, for a private dockerd.
//
// A test dockerd must not run with --bridge=none: at start-up dockerd then
// deletes the interface docker0, which is the host's own Docker's bridge,
// and every later `docker run` on the host fails ("could not find bridge
// docker0"). With --bridge=<name> dockerd uses the named bridge and leaves
// docker0 alone.
type Bridge struct {
	// Name is the interface name, "hdbr" and 8 hex digits.
	Name string
	// CIDR is the bridge's address, a /24 of 10.213.0.0/16; dockerd
	// takes its containers' subnet from it.
	CIDR string
}

// NewBridge creates a bridge with a fresh name and a /24 address that no
// interface of the host has yet (tests of other packages run at the same
// time); Remove deletes it.
func NewBridge() (*Bridge, error) {
	b := make([]byte, 5)
	for try := 0; ; try++ {
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		if !subnetInUse(fmt.Sprintf("10.213.%d.0/24", b[4])) {
			break
		}
		if try == 20 {
			return nil, fmt.Errorf("no free /24 in 10.213.0.0/16 after %d tries", try)
		}
	}
	br := &Bridge{
		Name: "hdbr" + hex.EncodeToString(b[:4]),
		CIDR: fmt.Sprintf("10.213.%d.1/24", b[4]),
	}
	for _, args := range [][]string{
		{"link", "add", br.Name, "type", "bridge"},
		{"addr", "add", br.CIDR, "dev", br.Name},
		{"link", "set", br.Name, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			br.Remove()
			return nil, fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return br, nil
}

// DockerdArgs are the dockerd flags that put its default network on the
// bridge and keep the host's iptables untouched.
func (br *Bridge) DockerdArgs() []string {
	return []string{"--bridge=" + br.Name, "--iptables=false", "--ip-masq=false"}
}

// Remove deletes the bridge (and with it any veth still attached).
func (br *Bridge) Remove() error {
	out, err := exec.Command("ip", "link", "del", br.Name).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "Cannot find device") {
		return fmt.Errorf("ip link del %s: %w: %s", br.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// subnetInUse reports whether an address of a host interface lies in
// cidr.
func subnetInUse(cidr string) bool {
	_, subnet, err := net.ParseCIDR(cidr)
	if err != nil {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if ipnet, ok := a.(*net.IPNet); ok && subnet.Contains(ipnet.IP) {
			return true
		}
	}
	return false
}

// hasLink reports whether the host has a network interface named name.
func hasLink(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}
