package shim

import (
	"fmt"
	"os"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
)

// configureLogging points logrus at --log in --log-format. The log file
// is opened O_APPEND|O_SYNC, as runc does, because containerd reads it
// right after we exit. Routine work is logged at debug so that the file
// does not grow on every successful exec or state call.
func configureLogging(c *cli.Context) error {
	if c.Bool("debug") {
		logrus.SetLevel(logrus.DebugLevel)
	}
	switch f := c.String("log-format"); f {
	case "", "text":
		logrus.SetFormatter(&logrus.TextFormatter{})
	case "json":
		logrus.SetFormatter(&logrus.JSONFormatter{})
	default:
		return fmt.Errorf("unknown --log-format %q: use text or json", f)
	}
	if c.String("log") == "" && !c.Bool("debug") {
		// Without --log (Podman's conmon passes none) stderr is the
		// container's own at create and start, so a line logged there
		// lands in the container's log: only warnings and errors go.
		logrus.SetLevel(logrus.WarnLevel)
	}
	if path := c.String("log"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("open log file: %w", err)
		}
		logrus.SetOutput(f)
	}
	return nil
}

// loggingToStderr reports whether log lines already reach stderr, so that
// an error is not printed twice.
func loggingToStderr() bool {
	f, ok := logrus.StandardLogger().Out.(*os.File)
	return ok && f.Fd() == os.Stderr.Fd()
}
