package shim

import "github.com/urfave/cli/v2"

// commands returns every subcommand, in the order help lists them.
func commands() []*cli.Command {
	return []*cli.Command{
		checkpointCommand(),
		containersCommand(),
		createCommand(),
		deleteCommand(),
		doctorCommand(),
		eventsCommand(),
		execCommand(),
		explainCommand(),
		featuresCommand(),
		inspectCommand(),
		installCommand(),
		killCommand(),
		listCommand(),
		pauseCommand(),
		policyCommand(),
		profileCommand(),
		psCommand(),
		restoreCommand(),
		resumeCommand(),
		runCommand(),
		specCommand(),
		startCommand(),
		stateCommand(),
		uninstallCommand(),
		updateCommand(),
	}
}
