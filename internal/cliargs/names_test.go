package cliargs

import (
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestHasNameAsNames checks that hasName, which reads the declared names
// of the flag types the runtime uses, answers as urfave/cli's Names()
// does, for every type it knows and one it does not.
func TestHasNameAsNames(t *testing.T) {
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}},
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}},
		&cli.StringFlag{Name: "pid-file, p"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e", "x y"}},
		&cli.IntFlag{Name: "preserve-fds"},
		&cli.DurationFlag{Name: "timeout", Aliases: []string{"t"}},
		&cli.Int64SliceFlag{Name: "ids"},
		&cli.UintFlag{Name: "count", Aliases: []string{"n"}},
		cli.HelpFlag,
	}
	names := []string{"detach", "d", "bundle", "b", "pid-file", "p", "pid-file, p", "env", "e", "x", "x y", "y",
		"preserve-fds", "timeout", "t", "ids", "count", "n", "help", "h", "", "bundl", "-b"}
	for _, f := range flags {
		for _, n := range names {
			if got, want := hasName(f, n), slices.Contains(f.Names(), n); got != want {
				t.Errorf("hasName(%v, %q) = %v, Names() %q says %v", f.Names(), n, got, f.Names(), want)
			}
		}
	}
	if _, _, ok := declaredNames(&cli.UintFlag{Name: "count"}); ok {
		t.Error("declaredNames knows UintFlag: add it to this test's known types")
	}
}
