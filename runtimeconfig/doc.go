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
//   - config.toml: every byte the edit does not need to change (comments,
//     order of tables and keys, indentation, line endings). go-toml's
//     parser (its unstable package, which reports byte ranges) finds
//     where each statement is (tomlfile.go); a value is replaced where it is, a new key goes after its
//     table's last key and a new table at the end of the file. A file the
//     reader cannot edit safely (the runtime's tables defined with dotted
//     keys or inline tables, keys or tables defined twice, syntax errors)
//     is refused, not guessed at. The result is read again and checked
//     before it is returned.
//
// Replace keeps a backup of the previous file either way.
package runtimeconfig
