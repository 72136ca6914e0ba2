// Command prepare fills, on the host, the tests' cache that the guest of
// `make test-vm` shares: the Debian rootfs tarball of the e2e workload
// tests (debootstrap inside a TCG guest takes far too long).
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	path, err := testutil.DebianTarball(ctx, logf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "prepare:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
