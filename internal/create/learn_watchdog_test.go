package create

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLearnWatchdog: a start that returns in time is left alone (its
// error as it was, nothing killed); one that hangs until its processes
// are killed fails after the timeout with ErrLearnStartTimeout, naming
// learn mode, the policy key and the profile.
func TestLearnWatchdog(t *testing.T) {
	errStart := errors.New("unable to start container process: EOF")
	for _, c := range []struct {
		name     string
		hangs    bool
		startErr error
	}{
		{"in time", false, nil},
		{"in time, failing", false, errStart},
		{"hangs", true, errStart},
	} {
		t.Run(c.name, func(t *testing.T) {
			killedCh := make(chan struct{})
			kills := 0
			w := learnWatchdog{key: "web", mode: "learn", timeout: 50 * time.Millisecond, kill: func() error {
				kills++
				close(killedCh)
				return nil
			}}
			begin := time.Now()
			err := w.run(func() error {
				if c.hangs {
					select {
					case <-killedCh:
					case <-time.After(10 * time.Second):
						t.Error("the hanging start was not killed within 10 s")
					}
				}
				return c.startErr
			})
			if !c.hangs {
				if err != c.startErr || kills != 0 {
					t.Fatalf("start in time: %v, %d kills; want %v, none", err, kills, c.startErr)
				}
				return
			}
			if kills != 1 || !errors.Is(err, ErrLearnStartTimeout) {
				t.Fatalf("hanging start: %v, %d kills; want ErrLearnStartTimeout after one kill", err, kills)
			}
			for _, want := range []string{"learn mode", `policy key "learn"`, "profile web", "EOF"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if d := time.Since(begin); d < w.timeout {
				t.Errorf("killed after %v, before the timeout %v", d, w.timeout)
			}
		})
	}
}
