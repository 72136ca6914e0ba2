// Package shim is hardened's runc-compatible command line. Each subcommand
// lives in its own file as one *cli.Command; commands.go lists them. The
// actions check their arguments, build options and call into spec,
// hardening and libcontainer; only Main turns an error into an exit code.
package shim
