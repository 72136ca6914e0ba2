package hostile

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// A config.json that names a host socket as its seccomp notify listener
// (the runtime, as root, would connect and hand it the container's
// notification descriptor and state) is refused by the seccomp-listener
// rule, and nothing connects to the socket. The policy's
// allowSeccompListeners lets the host's own agent through.
func TestSeccompListenerRefused(t *testing.T) {
	rt := testutil.NewRuntime(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	b := testutil.NewBundle(t, "true")
	b.Edit(t, func(s *specs.Spec) {
		// Docker's profile (it blocks by default, so the runtime keeps
		// it) with one notify rule.
		prof, err := seccomp.GetDefaultProfile(s)
		if err != nil {
			t.Fatal(err)
		}
		prof.ListenerPath = sock
		prof.Syscalls = append(prof.Syscalls, specs.LinuxSyscall{Names: []string{"sethostname"}, Action: specs.ActNotify})
		s.Linux.Seccomp = prof
	})
	rt.ExpectRefused(t, b, nil, "seccomp notify listener "+sock, `(rule seccomp-listener, allow with "allowSeccompListeners": ["`+sock+`"])`)
	l.SetDeadline(time.Now().Add(100 * time.Millisecond))
	if c, err := l.Accept(); err == nil {
		c.Close()
		t.Errorf("the runtime connected to %s for a refused container", sock)
	}

	// Allowed: the runtime connects (and the create then fails here, as
	// nothing answers; what matters is that the rule let it through).
	flag, _ := testutil.WritePolicy(t, `{"allowSeccompListeners": ["`+sock+`"]}`)
	id := rt.NewID()
	done := make(chan struct{})
	go func() {
		defer close(done)
		rt.Run(flag, "create", "--bundle", b.Dir, id)
	}()
	l.SetDeadline(time.Now().Add(20 * time.Second))
	c, err := l.Accept()
	if err != nil {
		t.Errorf("with %s allowed, the runtime never connected: %v", sock, err)
	} else {
		c.Close()
	}
	<-done
	rt.Run("delete", "--force", id)
}
