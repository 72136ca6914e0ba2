package hostile

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// reviewHostVeth makes a veth pair on the host for the test (the stand-in
// for the host's uplink, which a test must not move) and returns the name
// of one end; the cleanup deletes the pair.
func reviewHostVeth(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command")
	}
	name := fmt.Sprintf("hrv%d", os.Getpid()%100000)
	if out, err := exec.Command("ip", "link", "add", name, "type", "veth", "peer", "name", name+"p").CombinedOutput(); err != nil {
		t.Skipf("cannot make a veth pair: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", name).Run() })
	return name
}

// TestReviewNetDevicesRefused: linux.netDevices moves a host network
// interface into the container's network namespace (libcontainer does it
// as host root before the container starts). A config.json naming the
// host's uplink took it off the host (the host lost its network; the
// container got raw access to the host's LAN, past any bridge or
// firewall): it ran, and the interface showed inside under the name the
// config chose. Now refused by the net-devices rule, and the interface
// stays on the host; the policy's allowNetDevices lets a named interface
// through.
func TestReviewNetDevicesRefused(t *testing.T) {
	dev := reviewHostVeth(t)
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "sh", "-c", "cat /proc/net/dev")
	b.Edit(t, func(s *specs.Spec) {
		s.Linux.NetDevices = map[string]specs.LinuxNetDevice{dev: {Name: "taken0"}}
	})
	rt.ExpectRefused(t, b, nil, "linux.netDevices moves host network interface "+dev+" into the container",
		`(rule net-devices, allow with "allowNetDevices": ["`+dev+`"])`)
	if _, err := net.InterfaceByName(dev); err != nil {
		t.Errorf("host interface %s gone after the refused create: %v", dev, err)
	}

	flag, _ := testutil.WritePolicy(t, `{"allowNetDevices": ["`+dev+`"]}`)
	if out := rt.RunIn(t, b, flag); !strings.Contains(out, "taken0:") {
		t.Errorf("allowed by the policy, the interface is not inside as taken0:\n%s", out)
	}
}
