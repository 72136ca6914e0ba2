// Package cliargs lets urfave/cli v2 parse a command line the way runc's
// command-line library does: a subcommand's flags may follow its
// positional arguments, and a flag may be given under any of its names.
package cliargs

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// Reorder returns args (argv, program name first) with every flag of
// the subcommand moved before its positional arguments, so that
// "hardened update web1 --memory 1G" parses as runc, whose command-line
// library reorders this way, parses it. urfave/cli v2 stops at the first
// positional argument and would see "--memory" as an argument.
//
// Global flags stay where they are (they come before the subcommand, as
// with runc); everything after a "--" stays in place and in order; the
// commands named in keepOrder only have their leading flags named by
// their long names (canonicalLeadingFlags). A word that merely looks like
// a flag but is none of the subcommand's stays a positional argument.
func Reorder(app *cli.App, args []string, keepOrder ...string) []string {
	if len(args) < 2 {
		return args
	}
	i := skipGlobalFlags(app.Flags, args, 1)
	if i >= len(args) {
		return args
	}
	cmd := findCommand(app.Commands, args[i])
	if cmd == nil {
		return args
	}
	if slices.Contains(keepOrder, cmd.Name) {
		out := append([]string{}, args[:i+1]...)
		return append(out, canonicalLeadingFlags(cmd.Flags, args[i+1:])...)
	}
	i++
	// A subcommand's own subcommand (install docker ...) is reordered
	// with its own flags.
	if len(cmd.Subcommands) > 0 && i < len(args) {
		if sub := findCommand(cmd.Subcommands, args[i]); sub != nil {
			cmd = sub
			i++
		}
	}
	out := append([]string{}, args[:i]...)
	return append(out, moveFlagsFirst(cmd.Flags, args[i:])...)
}

// moveFlagsFirst moves the flags found in args (with their values) before
// the other arguments, keeping the order within each group.
func moveFlagsFirst(flags []cli.Flag, args []string) []string {
	var moved, rest []string
	for j := 0; j < len(args); j++ {
		arg := args[j]
		if arg == "--" {
			rest = append([]string{"--"}, rest...)
			rest = append(rest, args[j+1:]...)
			break
		}
		f := lookupFlag(flags, arg)
		if f == nil {
			rest = append(rest, arg)
			continue
		}
		moved = append(moved, canonicalFlag(f, arg))
		if takesValue(f) && !strings.Contains(arg, "=") && j+1 < len(args) {
			j++
			moved = append(moved, args[j])
		}
	}
	return append(moved, rest...)
}

// canonicalLeadingFlags names the flags before the first positional
// argument by their long names (canonicalFlag), leaving the order and
// everything from that argument on as they are.
func canonicalLeadingFlags(flags []cli.Flag, args []string) []string {
	out := append([]string{}, args...)
	for j := 0; j < len(out); j++ {
		f := lookupFlag(flags, out[j])
		if f == nil {
			break
		}
		if takesValue(f) && !strings.Contains(out[j], "=") {
			out[j] = canonicalFlag(f, out[j])
			j++
			continue
		}
		out[j] = canonicalFlag(f, out[j])
	}
	return out
}

// canonicalFlag rewrites arg, which names f by any of its names, to f's
// first name: urfave/cli v2 refuses a flag given under two of its names
// ("-e A=1 --env B=2"), which runc accepts.
func canonicalFlag(f cli.Flag, arg string) string {
	if f == cli.HelpFlag {
		return arg
	}
	_, value, hasValue := strings.Cut(arg, "=")
	out := "--" + f.Names()[0]
	if hasValue {
		out += "=" + value
	}
	return out
}

// skipGlobalFlags returns the index of the first argument from start on
// that is not a global flag or a global flag's value.
func skipGlobalFlags(flags []cli.Flag, args []string, start int) int {
	i := start
	for i < len(args) {
		arg := args[i]
		if arg == "--" || !strings.HasPrefix(arg, "-") || arg == "-" {
			return i
		}
		f := lookupFlag(flags, arg)
		i++
		if f != nil && takesValue(f) && !strings.Contains(arg, "=") {
			i++
		}
	}
	return i
}

// lookupFlag returns the flag among flags that arg ("-x", "--name",
// "--name=value") names, or nil.
func lookupFlag(flags []cli.Flag, arg string) cli.Flag {
	if arg == "-" || arg == "--" || !strings.HasPrefix(arg, "-") {
		return nil
	}
	name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	name, _, _ = strings.Cut(name, "=")
	for _, f := range flags {
		if hasName(f, name) {
			return f
		}
	}
	if hasName(cli.HelpFlag, name) {
		return cli.HelpFlag
	}
	return nil
}

// takesValue reports whether a flag consumes the next argument.
func takesValue(f cli.Flag) bool {
	if v, ok := f.(cli.DocGenerationFlag); ok {
		return v.TakesValue()
	}
	return false
}

// findCommand returns the command named (or aliased) name, or nil.
func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// hasName reports whether name is one of f's names.
func hasName(f cli.Flag, name string) bool {
	for _, n := range f.Names() {
		if n == name {
			return true
		}
	}
	return false
}
