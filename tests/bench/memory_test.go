package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// memoryAtExit is what a runtime command has resident when it exits, in
// KiB, split into anonymous pages (its own: heap, stacks) and file pages
// (the binary's code and read-only data and the shared libraries, which
// every process mapping the same file shares with it).
type memoryAtExit struct {
	rss, anon, file int64
}

// measureAtExit runs one runtime command traced and reads its
// /proc/<pid>/smaps_rollup at ptrace's exit event, while the kernel still
// holds its address space. Nothing frees memory in a create (no garbage
// collection runs below the Go heap's 4 MB floor), so this is its peak,
// like GNU time's, with the split that time cannot give.
func measureAtExit(rt runtimeUnderTest, args ...string) (memoryAtExit, error) {
	// ptrace requests must come from the thread that is the tracer.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return memoryAtExit{}, err
	}
	defer devnull.Close()
	out, err := os.CreateTemp(rt.root, "out-")
	if err != nil {
		return memoryAtExit{}, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	argv := append([]string{rt.bin, "--root", rt.root}, args...)
	p, err := os.StartProcess(rt.bin, argv, &os.ProcAttr{
		Env:   append(os.Environ(), rt.env...),
		Files: []*os.File{devnull, out, out},
		Sys:   &syscall.SysProcAttr{Ptrace: true},
	})
	if err != nil {
		return memoryAtExit{}, err
	}
	defer p.Release()
	var m memoryAtExit
	var ws unix.WaitStatus
	// The first stop is at the execve.
	if _, err := unix.Wait4(p.Pid, &ws, unix.WALL, nil); err != nil {
		return m, err
	}
	if err := unix.PtraceSetOptions(p.Pid, unix.PTRACE_O_TRACEEXIT); err != nil {
		return m, err
	}
	signal := 0
	for {
		if err := unix.PtraceCont(p.Pid, signal); err != nil {
			return m, fmt.Errorf("ptrace cont: %w", err)
		}
		if _, err := unix.Wait4(p.Pid, &ws, unix.WALL, nil); err != nil {
			return m, err
		}
		signal = 0
		switch {
		case ws.Exited() || ws.Signaled():
			if ws.ExitStatus() != 0 {
				msg, _ := os.ReadFile(out.Name())
				return m, fmt.Errorf("%s %s: %v: %s", rt.name, strings.Join(args, " "), ws, msg)
			}
			if m.rss == 0 {
				return m, fmt.Errorf("%s: no exit event seen", rt.name)
			}
			return m, nil
		case ws.Stopped() && ws.TrapCause() == unix.PTRACE_EVENT_EXIT:
			if m, err = readRollup(p.Pid); err != nil {
				return m, err
			}
		case ws.Stopped() && ws.StopSignal() != unix.SIGTRAP:
			signal = int(ws.StopSignal())
		}
	}
}

func readRollup(pid int) (memoryAtExit, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return memoryAtExit{}, err
	}
	defer f.Close()
	var m memoryAtExit
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kib, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "Rss:":
			m.rss = kib
		case "Anonymous:":
			m.anon = kib
		}
	}
	m.file = m.rss - m.anon
	return m, sc.Err()
}

// measureCreates creates and deletes n containers with measureAtExit on
// each create and returns the median of each figure.
func measureCreates(rt runtimeUnderTest, bundle, prefix string, n int) (memoryAtExit, error) {
	var rss, anon, file []int64
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		m, err := measureAtExit(rt, "create", "--bundle", bundle, id)
		if err != nil {
			return memoryAtExit{}, err
		}
		if err := run(rt, "delete", "--force", id); err != nil {
			return memoryAtExit{}, err
		}
		rss, anon, file = append(rss, m.rss), append(anon, m.anon), append(file, m.file)
	}
	return memoryAtExit{rss: medianInt(rss), anon: medianInt(anon), file: medianInt(file)}, nil
}

func medianInt(xs []int64) int64 {
	s := append([]int64(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
