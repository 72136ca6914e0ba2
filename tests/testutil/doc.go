// Package testutil holds the helpers shared by the integration and
// end-to-end tests of hardened: the runtime binary under test, a busybox
// rootfs, OCI bundles, a runtime wrapper that checks the host is left clean,
// a console-socket receiver, and private dockerd and containerd daemons.
//
// Every test here needs root. The binary under test comes from the
// environment variable HARDENED_BIN; Main builds it when that is unset.
//
// Helpers come in two forms: a function returning an error, usable from
// TestMain where there is no *testing.T, and a wrapper taking a testing.TB
// that fails the test and registers its cleanup with t.Cleanup.
package testutil
