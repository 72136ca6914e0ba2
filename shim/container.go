package shim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/spec"
)

const (
	defaultRoot       = "/run/hardened"
	defaultPolicyPath = hardening.DefaultPolicyPath
)

// stateRoot returns the absolute --root, creating it if needed.
func stateRoot(c *cli.Context) (string, error) {
	root, err := filepath.Abs(c.String("root"))
	if err != nil {
		return "", fmt.Errorf("state root %q: %w", c.String("root"), err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", fmt.Errorf("state root: %w", err)
	}
	return root, nil
}

// containerID returns the command's single ID argument, validated before
// it is ever joined into a path.
func containerID(c *cli.Context) (string, error) {
	id := c.Args().First()
	if err := spec.ValidateID(id); err != nil {
		return "", err
	}
	return id, nil
}

// loadContainer loads the container named by the command's first argument.
// A missing container keeps libcontainer.ErrNotExist in its chain: the
// containerd shim matches its text ("does not exist").
func loadContainer(c *cli.Context) (*libcontainer.Container, error) {
	id, err := containerID(c)
	if err != nil {
		return nil, err
	}
	root, err := stateRoot(c)
	if err != nil {
		return nil, err
	}
	ct, err := libcontainer.Load(root, id)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	return ct, nil
}

// isNotExist reports whether err means the container is unknown.
func isNotExist(err error) bool { return errors.Is(err, libcontainer.ErrNotExist) }

// checkArgs enforces a command's positional argument count.
func checkArgs(c *cli.Context, min, max int) error {
	n := c.NArg()
	switch {
	case n < min && min == max:
		return fmt.Errorf("%q requires exactly %d argument(s)", c.Command.FullName(), min)
	case n < min:
		return fmt.Errorf("%q requires at least %d argument(s)", c.Command.FullName(), min)
	case max >= 0 && n > max:
		return fmt.Errorf("%q accepts at most %d argument(s), got %d", c.Command.FullName(), max, n)
	}
	return nil
}

// loadPolicy loads the policy named by --policy or HARDENED_POLICY, else
// the host's default file, and returns it with the path it came from.
func loadPolicy(c *cli.Context) (*hardening.Policy, string, error) {
	path := c.String("policy")
	if path == "" {
		path = defaultPolicyPath
	}
	pol, err := hardening.LoadPolicy(path)
	return pol, path, err
}
