package learn

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/internal/audit"
)

// RecorderArg is the first argument that makes this binary a container's
// recorder (main dispatches it to RecorderMain before the CLI).
const RecorderArg = "learn-recorder"

// listenerFD is the recorder's inherited listening socket.
const listenerFD = 3

// Timing of the recorder.
const (
	// firstConnectTimeout: a recorder no container connected to by then
	// belongs to a create that failed.
	firstConnectTimeout = 2 * time.Minute
	// flushInterval: a learning recorder merges what is new at most this
	// often while the container runs (and always at its end).
	flushInterval = 2 * time.Second
)

// RecorderConfig is what the runtime tells a container's recorder.
type RecorderConfig struct {
	// Socket is the recorder's socket, removed when it ends.
	Socket string `json:"socket"`
	// ID is the container's ID; a connection for another is refused.
	ID string `json:"id"`
	// Mode is hardening.LearnModeLearn or LearnModeEnforce.
	Mode string `json:"mode"`
	// Key is the workload key.
	Key string `json:"key"`
	// Dir is the profile store's directory.
	Dir string `json:"dir"`
	// Args are the argument indexes to record (learn).
	Args ArgIndexes `json:"args,omitempty"`
	// Audit is where denials are recorded (enforce), and Record the
	// container's part of each record.
	Audit audit.Log `json:"audit"`
	// Record is the template of a denial's audit record.
	Record audit.Record `json:"record"`
	// LogPath is the runtime's log file (--log), "" for none; LogJSON
	// says whether it is JSON.
	LogPath string `json:"log,omitempty"`
	// LogJSON selects logrus's JSON format for LogPath.
	LogJSON bool `json:"logJSON,omitempty"`
}

// RecorderMain runs a recorder; args are what follows RecorderArg (the
// configuration as JSON). It returns the exit status.
func RecorderMain(args []string) int {
	var cfg RecorderConfig
	if len(args) != 1 || json.Unmarshal([]byte(args[0]), &cfg) != nil {
		fmt.Fprintln(os.Stderr, RecorderArg+": want one JSON configuration argument")
		return 2
	}
	log := logrus.New()
	log.SetOutput(os.Stderr)
	if cfg.LogPath != "" {
		if f, err := os.OpenFile(cfg.LogPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o600); err == nil {
			defer f.Close()
			log.SetOutput(f)
		}
	}
	if cfg.LogJSON {
		log.SetFormatter(&logrus.JSONFormatter{})
	}
	entry := log.WithFields(logrus.Fields{"id": cfg.ID, "profile": cfg.Key, "profile_mode": cfg.Mode})
	r, err := newRecorder(cfg, entry)
	if err != nil {
		entry.Errorf("learned-profile recorder: %v", err)
		return 1
	}
	if cfg.Socket != "" {
		defer ownSocket(cfg.Socket)()
	}
	if err := r.run(); err != nil {
		entry.Errorf("learned-profile recorder: %v", err)
		return 1
	}
	return 0
}

// ownSocket returns a func that removes the socket at path unless
// another recorder (of a container created again under the same ID) has
// bound a new one there since: the socket at path now is this
// recorder's, it is started with it bound.
func ownSocket(path string) (remove func()) {
	var own unix.Stat_t
	if unix.Lstat(path, &own) != nil {
		return func() {}
	}
	return func() {
		var now unix.Stat_t
		if unix.Lstat(path, &now) == nil && now.Ino == own.Ino && now.Dev == own.Dev {
			_ = os.Remove(path)
		}
	}
}

// recorder serves one container's notification fds.
type recorder struct {
	cfg    RecorderConfig
	log    *logrus.Entry
	names  *syscallNamer
	store  Store
	seen   *Profile
	denied map[string]bool
	// dirty: seen has calls not merged yet; merged: one merge counted
	// this run already.
	dirty, merged bool
	lastFlush     time.Time
}

func newRecorder(cfg RecorderConfig, log *logrus.Entry) (*recorder, error) {
	if cfg.Mode != hardening.LearnModeLearn && cfg.Mode != hardening.LearnModeEnforce {
		return nil, fmt.Errorf("mode %q is not learn or enforce", cfg.Mode)
	}
	if !hardening.ValidLearnKey(cfg.Key) {
		return nil, fmt.Errorf("%q is not a workload key", cfg.Key)
	}
	names, err := newSyscallNamer()
	if err != nil {
		return nil, err
	}
	return &recorder{
		cfg: cfg, log: log, names: names, store: Store{Dir: cfg.Dir},
		seen: NewProfile(cfg.Key), denied: map[string]bool{}, lastFlush: time.Now(),
	}, nil
}

// run serves the listening socket and every notification fd until the
// container's processes are all gone (or SIGTERM), then merges.
func (r *recorder) run() error {
	stop, err := stopPipe()
	if err != nil {
		return err
	}
	fds := []unix.PollFd{{Fd: listenerFD, Events: unix.POLLIN}, {Fd: int32(stop), Events: unix.POLLIN}}
	const fixed = 2
	connected := false
	start := time.Now()
	var n notification
	for {
		timeout := -1
		if r.dirty {
			timeout = int(flushInterval / time.Millisecond)
		}
		if !connected {
			timeout = int(time.Until(start.Add(firstConnectTimeout)) / time.Millisecond)
			if timeout <= 0 {
				return errors.New("no container connected")
			}
		}
		_, err := unix.Poll(fds, timeout)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("poll: %w", err)
		}
		if fds[1].Revents != 0 {
			return r.flush()
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			if fd, err := r.accept(); err != nil {
				r.log.Warnf("learned-profile recorder: %v", err)
			} else {
				fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
				connected = true
			}
		}
		for i := fixed; i < len(fds); i++ {
			ev := fds[i].Revents
			fds[i].Revents = 0
			if ev&unix.POLLIN != 0 {
				if err := receive(int(fds[i].Fd), &n); err == nil {
					r.handle(int(fds[i].Fd), &n)
				} else if err != unix.ENOENT {
					r.log.Warnf("learned-profile recorder: receive: %v", err)
				}
				continue
			}
			if ev&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
				unix.Close(int(fds[i].Fd))
				fds = append(fds[:i], fds[i+1:]...)
				i--
			}
		}
		if connected && len(fds) == fixed {
			// Every process of the container is gone.
			return r.flush()
		}
		if r.dirty && time.Since(r.lastFlush) >= flushInterval {
			if err := r.flush(); err != nil {
				// Once, then only the last merge tries again.
				r.log.Warnf("learned-profile recorder: %v", err)
				r.lastFlush = time.Now().Add(24 * time.Hour)
			}
		}
	}
}

// stopPipe returns a descriptor that becomes readable on SIGTERM or
// SIGINT.
func stopPipe() (int, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return -1, fmt.Errorf("pipe: %w", err)
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGTERM, unix.SIGINT)
	go func() {
		<-ch
		_, _ = unix.Write(p[1], []byte{0})
	}()
	return p[0], nil
}

// accept takes one connection of libcontainer's, checks its sender and
// container, and returns the notification fd it carries.
func (r *recorder) accept() (int, error) {
	conn, _, err := unix.Accept4(listenerFD, unix.SOCK_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("accept: %w", err)
	}
	defer unix.Close(conn)
	cred, err := unix.GetsockoptUcred(conn, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return -1, fmt.Errorf("peer credentials: %w", err)
	}
	if int(cred.Uid) != os.Geteuid() {
		return -1, fmt.Errorf("connection from uid %d refused", cred.Uid)
	}
	_ = unix.SetsockoptTimeval(conn, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5})
	buf := make([]byte, 1<<16)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(conn, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("receive: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return -1, fmt.Errorf("receive: no file descriptor (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("receive: want one file descriptor (%v)", err)
	}
	var state specs.ContainerProcessState
	if err := json.Unmarshal(buf[:n], &state); err != nil || state.State.ID != r.cfg.ID {
		unix.Close(fds[0])
		return -1, fmt.Errorf("connection for container %q refused (%v)", state.State.ID, err)
	}
	syncWakeUp(fds[0])
	return fds[0], nil
}

// handle answers one notification: continue and record (learn), or deny
// with EPERM and audit (enforce).
func (r *recorder) handle(fd int, n *notification) {
	name, nameErr := r.names.name(n.arch, n.nr)
	if r.cfg.Mode == hardening.LearnModeLearn {
		err := respond(fd, n.id, 0)
		if err != nil && err != unix.ENOENT {
			r.log.Warnf("learned-profile recorder: respond: %v", err)
		}
		if nameErr != nil {
			r.log.Warnf("learned-profile recorder: %v", nameErr)
			return
		}
		if r.seen.Add(name, r.cfg.Args[name], n.args) {
			r.dirty = true
		}
		return
	}
	err := respond(fd, n.id, unix.EPERM)
	if err != nil && err != unix.ENOENT {
		r.log.Warnf("learned-profile recorder: respond: %v", err)
	}
	if nameErr != nil {
		name = fmt.Sprintf("%d", n.nr)
	}
	if r.denied[name] {
		return
	}
	r.denied[name] = true
	r.log.Warnf("container %s: system call %s denied (EPERM): not in learned profile %s", r.cfg.ID, name, r.cfg.Key)
	rec := r.cfg.Record
	rec.Time = time.Now().UTC()
	rec.Event = audit.EventSyscallDenied
	rec.Syscall = name
	rec.Profile = r.cfg.Key
	rec.ProfileMode = r.cfg.Mode
	if err := r.cfg.Audit.Write(&rec); err != nil {
		r.log.Warnf("learned-profile recorder: audit record: %v", err)
	}
}

// flush merges what is new into the profile (learn).
func (r *recorder) flush() error {
	if r.cfg.Mode != hardening.LearnModeLearn || (!r.dirty && r.merged) {
		return nil
	}
	if len(r.seen.Syscalls) == 0 && !r.merged {
		return nil
	}
	if err := r.store.Merge(r.cfg.Key, r.seen, !r.merged); err != nil {
		return err
	}
	r.dirty, r.merged, r.lastFlush = false, true, time.Now()
	return nil
}
