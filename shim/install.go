package shim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/internal/install"
)

func installCommand() *cli.Command {
	return &cli.Command{
		Name:  "install",
		Usage: "register hardened as a runtime of Docker, containerd or Podman",
		Description: `The install command adds hardened to a container engine's configuration,
keeping every other setting, writing the file atomically with its owner and
mode and keeping a timestamped backup beside it.

  hardened install docker       /etc/docker/daemon.json, then reloads dockerd
  hardened install containerd   /etc/containerd/config.toml (restart containerd)
  hardened install podman       /etc/containers/containers.conf (read by every podman command)

Run "hardened install docker --dry-run" to see the new file first.`,
		Subcommands: []*cli.Command{
			dockerEngineCommand(true),
			containerdEngineCommand(true),
			podmanEngineCommand(true),
		},
	}
}

func uninstallCommand() *cli.Command {
	return &cli.Command{
		Name:  "uninstall",
		Usage: "remove hardened from Docker's, containerd's or Podman's configuration",
		Description: `The uninstall command removes what install added: the runtime's entry and,
if it names hardened, the engine's default runtime setting. Every other
setting is kept; the previous file is backed up beside it.`,
		Subcommands: []*cli.Command{
			dockerEngineCommand(false),
			containerdEngineCommand(false),
			podmanEngineCommand(false),
		},
	}
}

func engineFlags(add bool, config string) []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "config", Value: config, Usage: "configuration file to edit"},
		&cli.StringFlag{Name: "name", Value: install.DefaultRuntimeName, Usage: "runtime name (docker run --runtime=NAME, RuntimeClass handler NAME)"},
		&cli.BoolFlag{Name: "dry-run", Usage: "print the new file and what changes; write nothing"},
	}
	if add {
		flags = append(flags,
			&cli.StringFlag{Name: "path", Usage: "absolute path of the runtime binary (default: this binary)"},
			&cli.BoolFlag{Name: "default", Usage: "also make it the engine's default runtime"},
		)
	}
	return flags
}

func readEngineOptions(c *cli.Context, add bool) (install.Options, error) {
	if err := checkArgs(c, 0, 0); err != nil {
		return install.Options{}, err
	}
	return readEngineFlags(c, add)
}

// readEngineFlags reads the flags common to every engine.
func readEngineFlags(c *cli.Context, add bool) (install.Options, error) {
	o := install.Options{
		Install: add,
		Config:  c.String("config"),
		Name:    c.String("name"),
		DryRun:  c.Bool("dry-run"),
	}
	if o.Name == "" || strings.ContainsAny(o.Name, "/ \t\n\"'") {
		return o, fmt.Errorf("--name %q: a runtime name must be a non-empty word", o.Name)
	}
	if !add {
		return o, nil
	}
	o.Default = c.Bool("default")
	o.Path = c.String("path")
	if o.Path == "" {
		self, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("find this binary (pass --path): %w", err)
		}
		if o.Path, err = filepath.EvalSymlinks(self); err != nil {
			return o, fmt.Errorf("find this binary (pass --path): %w", err)
		}
	}
	if !filepath.IsAbs(o.Path) {
		return o, fmt.Errorf("--path %q: must be absolute (the engine starts it from its own directory)", o.Path)
	}
	if info, err := os.Stat(o.Path); err != nil {
		return o, fmt.Errorf("--path: %w", err)
	} else if !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
		return o, fmt.Errorf("--path %s: not an executable file", o.Path)
	}
	return o, nil
}

func dockerEngineCommand(add bool) *cli.Command {
	return engineCommand(add, "docker", "Docker's daemon.json and reload dockerd", `Edits "runtimes" (and with --default "default-runtime") in daemon.json,
keeping every other key and its value, then sends SIGHUP to the dockerd
named by --pidfile and waits until "docker info" agrees. When dockerd is not
running, the file is edited and the new setting applies when it starts.

With --config naming another file and no --pidfile, no dockerd is signalled
(the default one does not read that file). When nothing changed, none is.
Docker 20.10 keeps a removed runtime until dockerd restarts: uninstall then
says to restart it. Arguments after "--" are the runtime's global flags,
written as the entry's runtimeArgs, which registers a second runtime with
its own policy beside the default one.

Examples:
       hardened install docker --default --dry-run
       hardened install docker --name hardened-audit -- --policy=/etc/hardened/audit.json`,
		append(engineFlags(add, install.DefaultDockerConfig),
			&cli.StringFlag{Name: "pidfile", Value: install.DefaultDockerPidFile, Usage: "dockerd's PID file (its --pidfile)"},
			&cli.StringFlag{Name: "host", Aliases: []string{"H"}, Usage: "dockerd's socket for the check, as docker -H (default: the client's default)"},
			&cli.BoolFlag{Name: "no-reload", Usage: "edit the file only: do not signal dockerd or check docker info"},
			&cli.DurationFlag{Name: "timeout", Value: 15 * time.Second, Usage: "how long to wait for docker info to list the change"},
		),
		func(c *cli.Context) error {
			eo, err := readEngineFlags(c, add)
			if err != nil {
				return err
			}
			if eo.Args, err = runtimeArgs(c, add); err != nil {
				return err
			}
			o := install.DockerOptions{
				Options: eo,
				PidFile: c.String("pidfile"),
				Host:    c.String("host"),
				Reload:  !c.Bool("no-reload"),
				Timeout: c.Duration("timeout"),
			}
			if o.Reload && filepath.Clean(o.Config) != install.DefaultDockerConfig && !c.IsSet("pidfile") {
				o.Reload, o.NotPointed = false, true
			}
			return install.Docker(c.Context, install.HostEngines(c.App.Writer, c.App.ErrWriter), o)
		})
}

func containerdEngineCommand(add bool) *cli.Command {
	return engineCommand(add, "containerd", "containerd's config.toml (then restart containerd)", `Adds a runc-v2 runtime whose options.BinaryName is hardened to the CRI
plugin's runtimes, in the table the file's "version" calls for (1: plugins.cri,
2: plugins."io.containerd.grpc.v1.cri", 3: plugins."io.containerd.cri.v1.runtime").
containerd reads its configuration only at start: restart it afterwards.
The file is edited in place: comments and layout are kept (and a backup of the
previous file is written beside it).`,
		engineFlags(add, install.DefaultContainerdConfig), editConfigAction(add, install.Containerd))
}

func podmanEngineCommand(add bool) *cli.Command {
	return engineCommand(add, "podman", "Podman's containers.conf", `Adds [engine.runtimes] NAME = ["PATH"] (and with --default [engine] runtime)
to containers.conf; podman reads it at every command, so nothing is restarted.
Debian ships no /etc/containers/containers.conf (only the commented defaults
in /usr/share/containers): it is created then, and Podman reads it over the
defaults. The file is edited in place: comments and layout are kept (and a
backup of the previous file is written beside it). containers.conf has no
per-runtime arguments: another policy file is chosen per command with
"podman --runtime-flag policy=/etc/hardened/audit.json run ...".

Example: hardened install podman --default --dry-run`,
		engineFlags(add, install.DefaultPodmanConfig), editConfigAction(add, install.Podman))
}

// engineCommand is the install (add) or uninstall subcommand name for an
// engine, whose usage says it adds the runtime to, or removes it from,
// what (the engine's configuration file and what follows the edit).
func engineCommand(add bool, name, what, description string, flags []cli.Flag, action cli.ActionFunc) *cli.Command {
	usage := "add the runtime to " + what
	if !add {
		usage = "remove the runtime from " + what
	}
	return &cli.Command{Name: name, Usage: usage, ArgsUsage: " ", Description: description, Flags: flags, Action: action}
}

// editConfigAction is the action of an engine subcommand that takes the
// common flags only and no argument, and has edit change the file.
func editConfigAction(add bool, edit func(install.Host, install.Options) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		o, err := readEngineOptions(c, add)
		if err != nil {
			return err
		}
		return edit(install.HostEngines(c.App.Writer, c.App.ErrWriter), o)
	}
}

// runtimeArgs returns the arguments after "--" of install docker: the
// runtime's global flags, each starting with "-".
func runtimeArgs(c *cli.Context, add bool) ([]string, error) {
	args := c.Args().Slice()
	if len(args) > 0 && !add {
		return nil, fmt.Errorf("uninstall docker takes no arguments (got %q)", args)
	}
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return nil, fmt.Errorf("runtime argument %q: only hardened's global flags go after \"--\" (e.g. --policy=FILE)", a)
		}
	}
	return args, nil
}
