package testutil

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BusyboxPath is where Debian's busybox-static installs the static busybox.
const BusyboxPath = "/bin/busybox"

// Users in the busybox rootfs's /etc/passwd besides root.
const (
	UserUID   = 1000 // "user", home /home/user (owned by it)
	NobodyUID = 65534
)

const (
	passwdFile = "root:x:0:0:root:/root:/bin/sh\n" +
		"user:x:1000:1000:user:/home/user:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	groupFile = "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n"
)

// entry is one file of the busybox rootfs.
type entry struct {
	name     string // relative, no leading slash
	mode     fs.FileMode
	linkname string // symlink target
	data     []byte
	uid, gid int
}

// busyboxEntries lists the rootfs in the order a tar needs it (parents
// first). Only Debian's static busybox is read from the host.
func busyboxEntries() ([]entry, error) {
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return nil, fmt.Errorf("busybox rootfs: %w (apt-get install busybox-static)", err)
	}
	out, err := exec.Command(BusyboxPath, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	d := func(name string, mode fs.FileMode) entry { return entry{name: name, mode: fs.ModeDir | mode} }
	es := []entry{
		d("bin", 0o755), d("sbin", 0o755), d("usr", 0o755), d("usr/bin", 0o755), d("usr/sbin", 0o755),
		d("etc", 0o755), d("dev", 0o755), d("proc", 0o555), d("sys", 0o555), d("run", 0o755),
		d("tmp", fs.ModeSticky|0o777), d("root", 0o700), d("home", 0o755), d("mnt", 0o755),
		{name: "home/user", mode: fs.ModeDir | 0o755, uid: UserUID, gid: UserUID},
		d("var", 0o755), d("var/tmp", fs.ModeSticky|0o777), d("var/log", 0o755),
		d("var/cache", 0o755), d("var/lib", 0o755), d("var/run", 0o755),
		{name: "etc/passwd", mode: 0o644, data: []byte(passwdFile)},
		{name: "etc/group", mode: 0o644, data: []byte(groupFile)},
		{name: "bin/busybox", mode: 0o755, data: bb},
	}
	for _, applet := range strings.Fields(string(out)) {
		// The list contains "busybox" itself: a link named busybox would
		// replace the binary with a symlink loop.
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		es = append(es, entry{name: "bin/" + applet, mode: fs.ModeSymlink | 0o777, linkname: "busybox"})
	}
	return es, nil
}

// MakeBusyboxRootfs fills dir (created if missing) with a minimal rootfs:
// /bin/busybox with a symlink per applet, /etc/passwd and /etc/group
// (root, user 1000, nobody), and the usual empty directories.
func MakeBusyboxRootfs(dir string) error {
	es, err := busyboxEntries()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, e := range es {
		p := filepath.Join(dir, e.name)
		switch {
		case e.mode.IsDir():
			if err := os.Mkdir(p, e.mode.Perm()); err != nil && !os.IsExist(err) {
				return err
			}
			// Mkdir applies the umask and drops the sticky bit.
			if err := os.Chmod(p, e.mode.Perm()|e.mode&fs.ModeSticky); err != nil {
				return err
			}
		case e.mode&fs.ModeSymlink != 0:
			if err := os.Symlink(e.linkname, p); err != nil && !os.IsExist(err) {
				return err
			}
			continue
		default:
			if err := os.WriteFile(p, e.data, e.mode.Perm()); err != nil {
				return err
			}
			if err := os.Chmod(p, e.mode.Perm()); err != nil {
				return err
			}
		}
		if err := os.Lchown(p, e.uid, e.gid); err != nil {
			return err
		}
	}
	return nil
}

// BusyboxRootfs makes the busybox rootfs in dir (see MakeBusyboxRootfs).
func BusyboxRootfs(tb testing.TB, dir string) {
	tb.Helper()
	if err := MakeBusyboxRootfs(dir); err != nil {
		tb.Fatal(err)
	}
}

// tarEpoch is the modification time of every tar entry, so the tar (and the
// OCI image digests made from it) are the same on every run.
var tarEpoch = time.Unix(1700000000, 0).UTC()

// WriteBusyboxTar writes the busybox rootfs as an uncompressed tar stream,
// entries owned by their rootfs owners, byte-for-byte reproducible.
func WriteBusyboxTar(w io.Writer) error {
	es, err := busyboxEntries()
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, e := range es {
		h := &tar.Header{
			Name:    e.name,
			Mode:    int64(e.mode.Perm()),
			Uid:     e.uid,
			Gid:     e.gid,
			ModTime: tarEpoch,
			Format:  tar.FormatPAX,
		}
		if e.mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		switch {
		case e.mode.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, e.name+"/"
		case e.mode&fs.ModeSymlink != 0:
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.linkname
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(e.data); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// BusyboxTarball writes the busybox rootfs tar to dir/busybox-rootfs.tar
// unless it is already there (a cache for docker import), and returns its
// path.
func BusyboxTarball(dir string) (string, error) {
	p := filepath.Join(dir, "busybox-rootfs.tar")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	var buf bytes.Buffer
	if err := WriteBusyboxTar(&buf); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".busybox-rootfs-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return p, os.Rename(tmp.Name(), p)
}
