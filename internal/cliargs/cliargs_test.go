package cliargs

import (
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestReorder(t *testing.T) {
	t.Parallel()
	app := &cli.App{
		Name:  "rt",
		Flags: []cli.Flag{&cli.StringFlag{Name: "root"}},
		Commands: []*cli.Command{
			{Name: "update", Flags: []cli.Flag{
				&cli.StringFlag{Name: "memory", Aliases: []string{"m"}},
				&cli.BoolFlag{Name: "force", Aliases: []string{"f"}},
			}},
			{Name: "exec", Flags: []cli.Flag{&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}}}},
			{Name: "install", Subcommands: []*cli.Command{
				{Name: "docker", Flags: []cli.Flag{&cli.StringFlag{Name: "name"}}},
			}},
		},
	}
	tests := []struct{ in, want string }{
		{"rt update ct --memory 1G", "rt update --memory 1G ct"},
		{"rt --root /r update ct -m=1G -f", "rt --root /r update --memory=1G --force ct"},
		{"rt update ct -- --memory 1G", "rt update -- ct --memory 1G"},
		{"rt update ct --other", "rt update ct --other"},
		{"rt exec -t ct sh --memory", "rt exec --tty ct sh --memory"},
		{"rt exec ct sh -t", "rt exec ct sh -t"}, // the process's, not ours
		{"rt install docker x --name n", "rt install docker --name n x"},
		{"rt nosuch ct --memory 1", "rt nosuch ct --memory 1"},
	}
	for _, tc := range tests {
		in := strings.Fields(tc.in)
		orig := slices.Clone(in)
		if got := strings.Join(Reorder(app, in, "exec"), " "); got != tc.want {
			t.Errorf("Reorder(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if !slices.Equal(in, orig) {
			t.Errorf("Reorder(%q) changed its input to %q", tc.in, in)
		}
	}
}
