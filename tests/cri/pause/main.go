// Command pause is the CRI suite's sandbox ("pause") image: no registry is
// reachable from the test machines, so the image is built locally from
// this static program (testutil.WritePauseOCIArchive). Like Kubernetes'
// pause it holds the pod's namespaces open, reaps the orphans it inherits
// as PID 1 of a pod that shares its PID namespace, and exits 0 on SIGTERM
// or SIGINT.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Println("pause (hardened tests)")
		return
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every child that has exited, without blocking.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
