// Package audit writes the record hardened keeps of every container it
// creates, every process it execs and every configuration it refuses: one
// JSON line per event in a persistent log (by default
// /var/log/hardened/audit.log, the "auditLog" policy key), so that what
// hardening did to a container, and why one was refused, can be read after
// the container and its bundle are gone.
//
// A line is written with one write(2) on a file opened O_APPEND, so lines
// of concurrent runtimes never interleave; the file is rotated by size
// (path.1, path.2, ...) under an flock so that two writers do not rotate
// twice. When systemd-journald runs, the same event goes to the journal
// through its native socket as well.
package audit
