package shim

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/internal/cliargs"
)

// BuildInfo describes the binary, for --version.
type BuildInfo struct {
	// Version is the release version, e.g. "0.1.0".
	Version string
	// Commit is the git commit the binary was built from, if known.
	Commit string
}

const (
	usage       = "a drop-in OCI container runtime that hardens every container"
	description = `hardened takes runc's command line. Before a container is created its
config.json is rewritten to satisfy the host's hardening policy
(` + defaultPolicyPath + `, or --policy), and what cannot be made safe is
refused with an error that names the rule and the policy key that allows it.`
)

// reorderArgs moves each subcommand's flags before its arguments, as
// runc's command-line library does (cliargs.Reorder). What follows the
// container ID of exec and ps belongs to something else (the process's
// command line, ps(1)'s options) and is not searched for our flags; runc
// leaves them alone too.
func reorderArgs(app *cli.App, args []string) []string {
	return cliargs.Reorder(app, args, "exec", "ps")
}

// Main runs the command line and returns the process exit code.
func Main(args []string, build BuildInfo) int {
	app := newApp(build, os.Stdout, os.Stderr)
	err := app.Run(reorderArgs(app, args))
	if err == nil {
		return 0
	}
	var status *exitStatusError
	if errors.As(err, &status) {
		return status.code
	}
	var coded *exitCodeError
	if errors.As(err, &coded) {
		reportError(coded.err)
		return coded.code
	}
	reportError(err)
	return 1
}

// buildInfoKey is where the app's Metadata holds its BuildInfo.
const buildInfoKey = "build"

func newApp(build BuildInfo, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:                 "hardened",
		Usage:                usage,
		Description:          description,
		Version:              build.Version,
		HideVersion:          true,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		// A repeated flag's values are taken whole, as runc takes them:
		// exec --env A=1,2 sets A to "1,2", --cgroup cpu,cpuacct:sub
		// names two controllers.
		DisableSliceFlagSeparator: true,
		Flags:                     globalFlags(),
		Commands:                  commands(),
		Before:                    configureLogging,
		Action: func(c *cli.Context) error {
			if c.Bool("version") {
				return printVersion(c.App.Writer, build)
			}
			if c.NArg() > 0 {
				// runc's words and exit code (its CLI library's), which
				// scripts match.
				//lint:ignore ST1005 runc's words, capital included
				return &exitCodeError{code: 3, err: fmt.Errorf("No help topic for '%s' (unknown command; see \"hardened --help\")", c.Args().First())}
			}
			return cli.ShowAppHelp(c)
		},
		// Exit codes are decided by Main alone.
		ExitErrHandler: func(*cli.Context, error) {},
		Metadata:       map[string]any{buildInfoKey: build},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return fmt.Errorf("%s: %w", c.Command.FullName(), err)
		},
	}
	return app
}

func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version"},
		&cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
		&cli.StringFlag{Name: "log", Usage: "file to write logs to (default is stderr)"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
		&cli.StringFlag{Name: "root", Value: defaultRoot, Usage: "directory for container state (should be on tmpfs)"},
		&cli.BoolFlag{Name: "systemd-cgroup", Usage: "manage cgroups through systemd; cgroupsPath is then \"slice:prefix:name\""},
		&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors: true, false or auto"},
		&cli.StringFlag{Name: "criu", Value: "criu", Usage: "path to the criu binary for checkpoint and restore"},
		&cli.StringFlag{
			Name:    "policy",
			EnvVars: []string{"HARDENED_POLICY"},
			Usage:   "hardening policy file (default " + defaultPolicyPath + ")",
		},
	}
}

// exitStatusError carries a container's exit status out of an action
// without being reported as a failure.
type exitStatusError struct{ code int }

func (e *exitStatusError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// exitCodeError is a failure that exits with code instead of 1: a failed
// exec exits 255, as runc's does, so that callers tell it apart from the
// process's own exit status.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string { return e.err.Error() }

func (e *exitCodeError) Unwrap() error { return e.err }

// exitWith returns nil for status 0 and an exitStatusError otherwise.
func exitWith(status int) error {
	if status == 0 {
		return nil
	}
	return &exitStatusError{code: status}
}

// reportError records a failure where the callers read it: containerd's
// shim keeps the last "error" line of the --log file and shows it to
// `docker run` users; a person at a terminal reads stderr.
func reportError(err error) {
	logrus.Error(err)
	if !loggingToStderr() {
		fmt.Fprintln(os.Stderr, err)
	}
}
