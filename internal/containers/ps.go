package containers

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// PSTable runs the host's ps with psArgs (default -ef) and writes its
// header and the rows of pids.
func PSTable(w io.Writer, pids []int, psArgs []string) error {
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ps %s: %w: %s", strings.Join(psArgs, " "), err, bytes.TrimSpace(out))
	}
	return filterPSOutput(w, out, pids)
}

// filterPSOutput copies ps's header line and those rows whose PID column
// holds one of pids. The PID column is found by its header, so any ps
// options that keep a PID column work.
func filterPSOutput(w io.Writer, out []byte, pids []int) error {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	if !sc.Scan() {
		return errors.New("ps printed nothing")
	}
	header := sc.Text()
	col := slices.Index(strings.Fields(header), "PID")
	if col < 0 {
		return errors.New("ps output has no PID column (add -o pid)")
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, header)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if col >= len(fields) {
			return fmt.Errorf("ps row %q has no PID column", line)
		}
		pid, err := strconv.Atoi(fields[col])
		if err != nil {
			return fmt.Errorf("ps row %q: PID %q is not a number", line, fields[col])
		}
		if slices.Contains(pids, pid) {
			fmt.Fprintln(bw, line)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading ps output: %w", err)
	}
	return bw.Flush()
}
