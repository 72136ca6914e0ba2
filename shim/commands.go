package shim

import "github.com/urfave/cli/v2"

// commands returns every subcommand, in the order help lists them.
func commands() []*cli.Command {
	return []*cli.Command{
		createCommand(),
		deleteCommand(),
		execCommand(),
		featuresCommand(),
		killCommand(),
		listCommand(),
		runCommand(),
		specCommand(),
		startCommand(),
		stateCommand(),
		updateCommand(),
	}
}
