// Package runtimeconfig registers hardened with container engines by
// editing their configuration files: Docker's daemon.json and containerd's
// config.toml.
//
// The edits are pure functions from the file's bytes to new bytes
// (InstallDocker, UninstallDocker, InstallContainerd, UninstallContainerd):
// they never touch the host, so they are tested with tables of inputs.
// Host I/O is in one small place, File and its Replace method, which the
// command line uses behind a seam.
//
// What is kept:
//   - daemon.json: every key other than the runtime's entry (and
//     "default-runtime" when it names the runtime) keeps its raw JSON value
//     and the order of the keys; only whitespace may change.
//   - config.toml: every key and value keeps its meaning (TOML types
//     included), but comments and the layout are lost, because the file is
//     decoded and encoded again with a TOML library. Replace keeps a backup
//     of the previous file for that reason.
package runtimeconfig
