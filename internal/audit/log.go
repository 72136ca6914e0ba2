package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Log is where records go: a file rotated by size and, optionally, the
// journal. The zero Log writes nothing.
type Log struct {
	// Path is the file; "" writes no file.
	Path string
	// MaxSize rotates the file once it is larger; 0 never rotates.
	MaxSize int64
	// Keep is how many rotated files (Path.1 ... Path.Keep) are kept.
	Keep int
	// JournalSocket is journald's native socket; "" sends nothing to the
	// journal. The record is sent only when the socket exists.
	JournalSocket string
}

// JournalSocket is systemd-journald's native protocol socket.
const JournalSocket = "/run/systemd/journal/socket"

// Write appends rec to the log as one JSON line with one write(2) on a
// descriptor opened O_APPEND (lines of concurrent writers never
// interleave), rotates the file when it grew past MaxSize, and sends rec
// to the journal. Errors name the file; a journal that cannot be reached
// is no error (it is optional).
func (l Log) Write(rec *Record) error {
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("audit record: %w", err)
	}
	line = append(line, '\n')
	var errs []error
	if l.Path != "" {
		errs = append(errs, l.append(line))
	}
	if l.JournalSocket != "" {
		_ = sendJournal(l.JournalSocket, rec, line[:len(line)-1])
	}
	return errors.Join(errs...)
}

func (l Log) append(line []byte) error {
	if err := os.MkdirAll(filepath.Dir(l.Path), 0o750); err != nil {
		return fmt.Errorf("audit log %s: %w", l.Path, err)
	}
	f, err := os.OpenFile(l.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o640)
	if err != nil {
		return fmt.Errorf("audit log %s: %w", l.Path, err)
	}
	defer f.Close()
	if _, err := f.Write(line); err != nil {
		return fmt.Errorf("audit log %s: %w", l.Path, err)
	}
	if l.MaxSize <= 0 {
		return nil
	}
	st, err := f.Stat()
	if err != nil || st.Size() <= l.MaxSize {
		return nil
	}
	return l.rotate()
}

// rotate renames Path to Path.1 (and Path.N to Path.N+1, dropping the
// oldest) under an exclusive flock of Path.lock; a writer that finds the
// file already rotated by another does nothing. Writers that still hold
// the old file append to Path.1: no line is lost.
func (l Log) rotate() error {
	lock, err := os.OpenFile(l.Path+".lock", os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o640)
	if err != nil {
		return fmt.Errorf("audit log %s: rotate: %w", l.Path, err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("audit log %s: rotate: %w", l.Path, err)
	}
	st, err := os.Lstat(l.Path)
	if err != nil || st.Size() <= l.MaxSize {
		return nil
	}
	keep := max(l.Keep, 1)
	_ = os.Remove(l.Path + "." + strconv.Itoa(keep))
	for i := keep - 1; i >= 1; i-- {
		_ = os.Rename(l.Path+"."+strconv.Itoa(i), l.Path+"."+strconv.Itoa(i+1))
	}
	if err := os.Rename(l.Path, l.Path+".1"); err != nil {
		return fmt.Errorf("audit log %s: rotate: %w", l.Path, err)
	}
	return nil
}
