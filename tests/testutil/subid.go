package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// AddSubIDUser creates the system user name (and its group) with
// start..start+size-1 as its only subordinate uids and gids until the
// test ends (a user left by a killed run is removed first). useradd,
// usermod and userdel lock and rewrite /etc/passwd, /etc/group,
// /etc/subuid and /etc/subgid: only this user's lines change, whatever
// other tests add there meanwhile.
func AddSubIDUser(tb testing.TB, name string, start, size uint32) {
	tb.Helper()
	RequireRoot(tb)
	run := func(cmd string, args ...string) error {
		out, err := exec.Command(cmd, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %w: %s", cmd, strings.Join(args, " "), err, out)
		}
		return nil
	}
	ids := fmt.Sprintf("%d-%d", start, start+size-1)
	remove := func() error {
		if exec.Command("id", name).Run() != nil {
			return nil
		}
		var errs []error
		// Not every userdel removes the user's subordinate IDs.
		if err := run("usermod", "--del-subuids", ids, "--del-subgids", ids, name); err != nil {
			errs = append(errs, err)
		}
		if err := run("userdel", name); err != nil {
			errs = append(errs, err)
		}
		for _, file := range []string{"/etc/subuid", "/etc/subgid"} {
			if data, err := os.ReadFile(file); err == nil && (bytes.Contains(data, []byte("\n"+name+":")) || bytes.HasPrefix(data, []byte(name+":"))) {
				errs = append(errs, fmt.Errorf("%s still names %s", file, name))
			}
		}
		return errors.Join(errs...)
	}
	if err := remove(); err != nil {
		tb.Fatal(err)
	}
	if err := run("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := remove(); err != nil {
			tb.Error(err)
		}
	})
	if err := run("usermod", "--add-subuids", ids, "--add-subgids", ids, name); err != nil {
		tb.Fatal(err)
	}
}
