package e2e

// Real programs from a Debian bookworm rootfs (debootstrap, see
// testutil.DebianImage) through `docker run --runtime=hardened` under the
// DEFAULT policy: read-only rootfs with writable, noexec state paths,
// capabilities clamped to baseline, no-new-privileges, Docker's seccomp
// profile plus the deny-list, masked paths, a pids limit. What the default
// policy breaks is listed in README.md ("What the default policy breaks");
// the subtests named Breaks* pin down those entries that were observed.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
	"golang.org/x/sys/unix"
)

// TestWorkloads imports the Debian image once (building it with
// debootstrap on the first run on this machine) and removes it at the end.
func TestWorkloads(t *testing.T) {
	testutil.RequireRoot(t)
	start := time.Now()
	img := testutil.DebianImage(t, dockerd)
	t.Logf("debian image ready in %s", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if _, errOut, exit := docker(t, "rmi", "-f", img); exit != 0 {
			t.Errorf("docker rmi %s: %s", img, errOut)
		}
	})
	w := &workloads{img: img}
	t.Run("Nginx", w.nginx)
	t.Run("Postgres", w.postgres)
	t.Run("Python", w.python)
	t.Run("NonRootVolume", w.nonRootVolume)
	t.Run("ExecCpStop", w.execCpStop)
	t.Run("BreaksWritesOutsideStatePaths", w.breaksWritesOutside)
	t.Run("BreaksExecFromStatePaths", w.breaksExecFromStatePaths)
	t.Run("BreaksSetuidBinaries", w.breaksSetuid)
	t.Run("BreaksHostDirOwners", w.breaksHostDirOwners)
	t.Run("BreaksCapabilitiesAndSyscalls", w.breaksCapabilitiesAndSyscalls)
}

type workloads struct{ img string }

// run starts a detached container of the Debian image under the hardened
// runtime with dockerArgs before the image and cmd after it; cleanup
// removes it and checks it left nothing behind.
func (w *workloads) run(t *testing.T, dockerArgs []string, cmd ...string) *container {
	t.Helper()
	c := &container{Name: uniqueName("w")}
	args := append([]string{"run", "-d", "--runtime=hardened", "--name", c.Name}, dockerArgs...)
	args = append(append(args, w.img), cmd...)
	out, errOut, exit := docker(t, args...)
	if exit != 0 {
		docker(t, "rm", "-f", c.Name)
		t.Fatalf("docker %s: exit %d\n%s%s", strings.Join(args, " "), exit, out, errOut)
	}
	c.ID = strings.TrimSpace(out)
	t.Cleanup(func() { removeAndCheck(t, c) })
	st := inspect(t, c.Name)
	if st.HostConfig.Runtime != "hardened" {
		t.Fatalf("container %s runs under runtime %q, want hardened", c.Name, st.HostConfig.Runtime)
	}
	c.Pid, c.Merged = st.State.Pid, st.GraphDriver.Data["MergedDir"]
	return c
}

// oneShot runs `docker run --rm --runtime=hardened dockerArgs img cmd` and
// returns its output and exit code.
func (w *workloads) oneShot(t *testing.T, dockerArgs []string, cmd ...string) (stdout, stderr string, exit int) {
	t.Helper()
	args := append([]string{"run", "--rm", "--runtime=hardened"}, dockerArgs...)
	args = append(append(args, w.img), cmd...)
	return docker(t, args...)
}

// mustOneShot is oneShot that fails the test unless the command exits 0.
func (w *workloads) mustOneShot(t *testing.T, dockerArgs []string, cmd ...string) string {
	t.Helper()
	out, errOut, exit := w.oneShot(t, dockerArgs, cmd...)
	if exit != 0 {
		t.Fatalf("docker run %v %s %v: exit %d\nstdout: %s\nstderr: %s", dockerArgs, w.img, cmd, exit, out, errOut)
	}
	return out
}

// volume creates a named volume removed at cleanup (after the containers
// using it, since cleanups run last-in first-out).
func volume(t *testing.T) string {
	t.Helper()
	name := uniqueName("vol")
	mustDocker(t, "volume", "create", name)
	t.Cleanup(func() {
		if _, errOut, exit := docker(t, "volume", "rm", "-f", name); exit != 0 {
			t.Errorf("docker volume rm %s: %s", name, errOut)
		}
	})
	return name
}

// waitExec retries a docker exec until it exits 0 and its output contains
// want, and returns that output.
func waitExec(t *testing.T, c *container, timeout time.Duration, want string, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, errOut, exit := docker(t, append([]string{"exec"}, args...)...)
		if exit == 0 && strings.Contains(out, want) {
			return out
		}
		if st := inspect(t, c.Name); !st.State.Running {
			logs, logErr, _ := docker(t, "logs", c.Name)
			t.Fatalf("container %s exited (code %d) while waiting for %q from docker exec %v; logs:\n%s%s",
				c.Name, st.State.ExitCode, want, args, logs, logErr)
		}
		if time.Now().After(deadline) {
			logs, logErr, _ := docker(t, "logs", c.Name)
			t.Fatalf("docker exec %v: exit %d, output %q %q; want %q within %s; container logs:\n%s%s",
				args, exit, out, errOut, want, timeout, logs, logErr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stopGracefully runs docker stop with a long grace period and checks that
// the container stopped on SIGTERM, quickly, with exit code 0.
func stopGracefully(t *testing.T, c *container) {
	t.Helper()
	start := time.Now()
	mustDocker(t, "stop", "-t", "30", c.Name)
	took := time.Since(start)
	st := inspect(t, c.Name)
	if st.State.Running || st.State.ExitCode != 0 || took > 10*time.Second {
		logs, logErr, _ := docker(t, "logs", "--tail", "20", c.Name)
		t.Errorf("docker stop %s: took %s, exit code %d (want < 10s and 0; 137 means SIGKILL); logs:\n%s%s",
			c.Name, took.Round(time.Millisecond), st.State.ExitCode, logs, logErr)
	}
	t.Logf("docker stop: %s", took.Round(time.Millisecond))
}

// fetch is a docker exec'd python3 HTTP GET of url inside the container.
func fetch(url string) []string {
	return []string{"python3", "-c",
		"import sys,urllib.request;sys.stdout.write(urllib.request.urlopen(sys.argv[1],timeout=5).read().decode())", url}
}

// nginx: the master as root, workers as www-data (setuid/setgid with
// CAP_SETUID/CAP_SETGID, allowed under no-new-privileges), state in
// /var/lib/nginx, /var/log/nginx and /run (writable paths), serving the
// image's page and one written into a named volume at run time.
func (w *workloads) nginx(t *testing.T) {
	vol := volume(t)
	// A named volume on /var/www/html starts with the image's content.
	c := w.run(t, []string{"-v", vol + ":/var/www/html"}, "nginx", "-g", "daemon off;")
	page := waitExec(t, c, 20*time.Second, "Welcome to nginx!", append([]string{c.Name}, fetch("http://127.0.0.1/")...)...)
	if !strings.Contains(page, "</html>") {
		t.Errorf("the default page is cut short: %q", page)
	}
	mustDocker(t, "exec", c.Name, "sh", "-c", "echo hardened-page-$((6*7)) > /var/www/html/t.html")
	if out := mustDocker(t, append([]string{"exec", c.Name}, fetch("http://127.0.0.1/t.html")...)...); out != "hardened-page-42\n" {
		t.Errorf("page written into the volume: got %q", out)
	}
	ps := mustDocker(t, "exec", c.Name, "ps", "-eo", "user:12,comm,args")
	var master, workers int
	for _, line := range strings.Split(ps, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] != "nginx" {
			continue
		}
		switch {
		case f[0] == "root" && strings.Contains(line, "master process"):
			master++
		case f[0] == "www-data" && strings.Contains(line, "worker process"):
			workers++
		default:
			t.Errorf("unexpected nginx process: %q", line)
		}
	}
	if master != 1 || workers < 1 {
		t.Errorf("want one nginx master as root and workers as www-data; ps:\n%s", ps)
	}
	// The workers' credentials really are www-data's, and no capability
	// survived the switch (the master keeps the clamped set).
	status := mustDocker(t, "exec", c.Name, "sh", "-c",
		`for p in $(pgrep -u www-data nginx); do grep -E '^(Uid|CapEff|NoNewPrivs)' /proc/$p/status; done`)
	if !strings.Contains(status, "CapEff:\t0000000000000000") || !strings.Contains(status, "NoNewPrivs:\t1") {
		t.Errorf("worker status:\n%s\nwant no effective capability and NoNewPrivs 1", status)
	}
	// Logs and the pid file were written.
	mustDocker(t, "exec", c.Name, "test", "-s", "/var/log/nginx/access.log")
	mustDocker(t, "exec", c.Name, "test", "-s", "/run/nginx.pid")
	stopGracefully(t, c)
}

// PostgreSQL: initdb on a named volume as the postgres user (docker run
// -u postgres), then the server started as root and dropping to postgres
// with setpriv (what gosu-style entrypoints do; no setuid binary involved,
// so no-new-privileges does not get in the way), answering psql through
// its unix socket in /run/postgresql.
func (w *workloads) postgres(t *testing.T) {
	pgbin := strings.TrimSpace(w.mustOneShot(t, nil, "sh", "-c", "ls -d /usr/lib/postgresql/*/bin | tail -n 1"))
	if !strings.HasPrefix(pgbin, "/usr/lib/postgresql/") {
		t.Fatalf("no PostgreSQL in the image: %q", pgbin)
	}
	vol := volume(t)
	const pgdata = "/var/lib/postgresql/data"
	mount := []string{"-v", vol + ":" + pgdata}
	// A fresh volume is owned by root: an init step hands it over (CAP_CHOWN).
	w.mustOneShot(t, mount, "chown", "postgres:postgres", pgdata)
	start := time.Now()
	out := w.mustOneShot(t, append([]string{"-u", "postgres"}, mount...), pgbin+"/initdb", "-D", pgdata+"/pg", "--auth=trust", "-E", "UTF8")
	if !strings.Contains(out, "Success") {
		t.Errorf("initdb output lacks Success:\n%s", out)
	}
	t.Logf("initdb: %s", time.Since(start).Round(time.Millisecond))
	// /run is writable but only root may create the socket directory in
	// it (Debian creates /run/postgresql at boot via tmpfiles.d).
	c := w.run(t, mount, "sh", "-c",
		`install -d -o postgres -g postgres -m 2775 /run/postgresql && `+
			`exec setpriv --reuid=postgres --regid=postgres --init-groups `+pgbin+`/postgres -D `+pgdata+`/pg -c listen_addresses=127.0.0.1`)
	psql := []string{"-u", "postgres", c.Name, pgbin + "/psql", "-h", "/run/postgresql", "-XAtc"}
	waitExec(t, c, 30*time.Second, "1", append(append([]string{}, psql...), "select 1")...)
	// A table written and read back, and over TCP on loopback too.
	mustDocker(t, append(append([]string{"exec"}, psql...), "create table t(v text); insert into t values ('hardened');")...)
	if out := mustDocker(t, "exec", "-u", "postgres", c.Name, pgbin+"/psql", "-h", "127.0.0.1", "-XAtc", "select v from t"); out != "hardened\n" {
		t.Errorf("select over TCP: %q", out)
	}
	if out := mustDocker(t, append(append([]string{"exec"}, psql...), "select usename from pg_stat_activity where pid = pg_backend_pid()")...); out != "postgres\n" {
		t.Errorf("session user: %q", out)
	}
	ps := mustDocker(t, "exec", c.Name, "ps", "-o", "user:12,comm", "-C", "postgres")
	if !strings.Contains(ps, "postgres") || strings.Contains(ps, "root") {
		t.Errorf("the server's processes should all run as postgres:\n%s", ps)
	}
	stopGracefully(t, c)
	logs, logErr, _ := docker(t, "logs", c.Name)
	if !strings.Contains(logs+logErr, "database system is shut down") {
		t.Errorf("no clean shutdown in the server's log:\n%s%s", logs, logErr)
	}
	// The data outlives the container: a new server on the same volume.
	c2 := w.run(t, append([]string{"-u", "postgres"}, mount...), "sh", "-c",
		`exec `+pgbin+`/postgres -D `+pgdata+`/pg -c listen_addresses= -c unix_socket_directories=/tmp`)
	waitExec(t, c2, 30*time.Second, "hardened", "-u", "postgres", c2.Name, pgbin+"/psql", "-h", "/tmp", "-XAtc", "select v from t")
	stopGracefully(t, c2)
}

// python3: temporary files and directories (tempfile in /tmp), files under
// /var/tmp, and under $HOME for users whose home is a state path. Root's
// home, /root, is not one (see BreaksWritesOutsideStatePaths).
func (w *workloads) python(t *testing.T) {
	const script = `
import os, sys, tempfile
fd, p = tempfile.mkstemp(prefix="ht-")
os.write(fd, b"x" * 4096); os.close(fd)
assert os.path.getsize(p) == 4096 and p.startswith("/tmp/"), p
with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "f"), "w") as f: f.write("y")
with tempfile.NamedTemporaryFile(dir="/var/tmp") as f:
    f.write(b"z"); f.flush()
home = os.path.expanduser("~")
if sys.argv[1] == "home":
    os.makedirs(os.path.join(home, ".cache", "ht"), exist_ok=True)
    with open(os.path.join(home, ".cache", "ht", "state"), "w") as f: f.write("ok")
print("ok", os.getuid(), home, p)
`
	out := w.mustOneShot(t, nil, "python3", "-c", script, "nohome")
	if !strings.HasPrefix(out, "ok 0 /root /tmp/ht-") {
		t.Errorf("python3 as root: %q", out)
	}
	// The postgres user's home is /var/lib/postgresql: a state path.
	out = w.mustOneShot(t, []string{"-u", "postgres"}, "python3", "-c", script, "home")
	if !strings.HasPrefix(out, "ok ") || !strings.Contains(out, " /var/lib/postgresql /tmp/ht-") {
		t.Errorf("python3 as postgres: %q", out)
	}
	// A uid without a passwd entry: Docker sets HOME=/, which is read-only;
	// pointing HOME into a state path is the fix.
	if _, errOut, exit := w.oneShot(t, []string{"-u", "1000:1000"}, "python3", "-c", script, "home"); exit == 0 || !strings.Contains(errOut, "Read-only file system: '/.cache'") {
		t.Errorf("python3 as 1000 with HOME=/: exit %d %q; want EROFS on /.cache", exit, errOut)
	}
	out = w.mustOneShot(t, []string{"-u", "1000:1000", "-e", "HOME=/tmp"}, "python3", "-c", script, "home")
	if !strings.HasPrefix(out, "ok 1000 /tmp ") {
		t.Errorf("python3 as 1000 with HOME=/tmp: %q", out)
	}
	// Byte-compiling into the read-only /usr fails quietly; importing works.
	w.mustOneShot(t, nil, "python3", "-c", "import json, email.mime.text, http.server, sqlite3")
}

// A non-root user writing into a named volume that an init step chowned.
func (w *workloads) nonRootVolume(t *testing.T) {
	vol := volume(t)
	w.mustOneShot(t, []string{"-v", vol + ":/data"}, "chown", "1000:1000", "/data")
	out := w.mustOneShot(t, []string{"-u", "1000:1000", "-v", vol + ":/data"}, "sh", "-c",
		"echo hello > /data/f && mkdir /data/d && echo again > /data/d/g && id -u && stat -c '%u:%g' /data/f && cat /data/f")
	if out != "1000\n1000:1000\nhello\n" {
		t.Errorf("non-root write into its volume: %q", out)
	}
	// The data is there for the next container.
	if out := w.mustOneShot(t, []string{"-u", "1000:1000", "-v", vol + ":/data:ro"}, "cat", "/data/d/g"); out != "again\n" {
		t.Errorf("read back: %q", out)
	}
	// And user 1000 cannot write where it has no permission (the root-owned
	// rootfs directories), read-only or not: DAC, not just the policy.
	if _, _, exit := w.oneShot(t, []string{"-u", "1000:1000"}, "sh", "-c", "echo x > /var/lib/x"); exit == 0 {
		t.Errorf("user 1000 wrote into root's /var/lib")
	}
}

// A host directory bind-mounted into a container (-v /path:/dst) is not
// idmapped by default: the container's users are not the host's. A
// directory owned by host uid 1000 shows as nobody inside, and the
// container's uid 1000 (a host ID of the container's range) cannot write
// there; what it creates in a directory open to it is owned by its mapped
// host ID. Named volumes are idmapped (NonRootVolume); "idmapBindMounts"
// idmaps host directories too. (README: user namespaces.)
func (w *workloads) breaksHostDirOwners(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	out, errOut, exit := w.oneShot(t, []string{"-u", "1000:1000", "-v", dir + ":/data"}, "sh", "-c", "stat -c %u /data; echo from-container > /data/out")
	if exit == 0 || out != "65534\n" || !strings.Contains(errOut, "Permission denied") {
		t.Errorf("uid 1000 writing into a host directory of host uid 1000: exit %d, %q %q; want the owner shown as 65534 and EACCES", exit, out, errOut)
	}
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o1777); err != nil {
		t.Fatal(err)
	}
	uidMap := w.mustOneShot(t, []string{"-u", "1000:1000", "-v", open + ":/data"}, "sh", "-c", "echo x > /data/out && cat /proc/self/uid_map")
	f := strings.Fields(uidMap)
	fi, err := os.Stat(filepath.Join(open, "out"))
	if err != nil || len(f) != 3 {
		t.Fatalf("uid_map %q, stat %v", uidMap, err)
	}
	if want := f[1]; strconv.Itoa(fileUID(fi)-1000) != want || want == "0" {
		t.Errorf("file of the container's uid 1000 owned by host %d; want the mapped %s+1000", fileUID(fi), want)
	}
}

// docker exec (as root and as another user, with a terminal-less pipe),
// docker cp out of and into /tmp (a writable path bind-mounted over the
// read-only rootfs: the copy must land where the container sees it), and
// docker stop of a shell that traps SIGTERM.
func (w *workloads) execCpStop(t *testing.T) {
	c := w.run(t, nil, "bash", "-c", `trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.1; done`)
	waitLogs(t, c.Name, "ready")
	if out := mustDocker(t, "exec", c.Name, "bash", "-c", "echo $((6*7)) $(id -un)"); out != "42 root\n" {
		t.Errorf("docker exec: %q", out)
	}
	if out := mustDocker(t, "exec", "-u", "www-data", "-w", "/tmp", c.Name, "sh", "-c", "id -un; pwd; echo w > owned; stat -c %U owned"); out != "www-data\n/tmp\nwww-data\n" {
		t.Errorf("docker exec -u www-data: %q", out)
	}
	// docker exec --privileged is clamped like the container.
	if out := mustDocker(t, "exec", "--privileged", c.Name, "grep", "-E", "^(CapEff|NoNewPrivs|Seccomp):", "/proc/self/status"); !strings.Contains(out, "NoNewPrivs:\t1") || !strings.Contains(out, "Seccomp:\t2") || strings.Contains(out, "CapEff:\t000001ff") {
		t.Errorf("docker exec --privileged is not clamped:\n%s", out)
	}

	host := t.TempDir()
	mustDocker(t, "exec", c.Name, "sh", "-c", "echo made-inside > /tmp/out.txt")
	mustDocker(t, "cp", c.Name+":/tmp/out.txt", filepath.Join(host, "out.txt"))
	if b, err := os.ReadFile(filepath.Join(host, "out.txt")); err != nil || string(b) != "made-inside\n" {
		t.Errorf("docker cp out of /tmp: %q, %v", b, err)
	}
	in := filepath.Join(host, "in.txt")
	if err := os.WriteFile(in, []byte("made-outside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustDocker(t, "cp", in, c.Name+":/tmp/in.txt")
	if out := mustDocker(t, "exec", c.Name, "cat", "/tmp/in.txt"); out != "made-outside\n" {
		t.Errorf("docker cp into /tmp, seen inside: %q", out)
	}
	// docker diff sees what the container wrote in its state paths.
	if diff := mustDocker(t, "diff", c.Name); !strings.Contains(diff, "/tmp/out.txt") || !strings.Contains(diff, "/tmp/in.txt") {
		t.Errorf("docker diff lacks the files in /tmp:\n%s", diff)
	}

	stopGracefully(t, c)
	waitLogs(t, c.Name, "got TERM")
	// docker cp out of a stopped container, and a restart on the same
	// layer keeps the files.
	mustDocker(t, "cp", c.Name+":/tmp/in.txt", filepath.Join(host, "back.txt"))
	if b, _ := os.ReadFile(filepath.Join(host, "back.txt")); string(b) != "made-outside\n" {
		t.Errorf("docker cp from the stopped container: %q", b)
	}
	mustDocker(t, "start", c.Name)
	waitLogs(t, c.Name, "ready\ngot TERM\nready")
	if out := mustDocker(t, "exec", c.Name, "cat", "/tmp/out.txt"); out != "made-inside\n" {
		t.Errorf("after restart: %q", out)
	}
}

// Writes outside the state paths fail with EROFS: package installs,
// useradd, editing /etc, root's home /root. (README: readonlyRootfs,
// writablePaths.)
func (w *workloads) breaksWritesOutside(t *testing.T) {
	for _, cmd := range []string{
		"echo x > /etc/hardened-test",
		"echo x > /usr/local/bin/x",
		"echo x > /root/.profile-x",
		"echo x > /opt/x",
		"useradd -m ht-user",
	} {
		out, errOut, exit := w.oneShot(t, nil, "sh", "-c", cmd)
		if exit == 0 {
			t.Errorf("%q succeeded on the read-only rootfs", cmd)
			continue
		}
		// useradd reports its failure to create the lock file beside
		// /etc/passwd as "cannot lock /etc/passwd".
		if msg := strings.ToLower(out + errOut); !strings.Contains(msg, "read-only file system") && !strings.Contains(msg, "cannot lock /etc/passwd") {
			t.Errorf("%q: exit %d, %q; want EROFS (Read-only file system)", cmd, exit, out+errOut)
		}
	}
}

// Binaries written to a state path cannot be executed (noexec), while
// interpreters can still read scripts there. (README: no key; a caller's
// own mount, e.g. --tmpfs /tmp:exec, replaces the writable path.)
func (w *workloads) breaksExecFromStatePaths(t *testing.T) {
	out, errOut, exit := w.oneShot(t, nil, "sh", "-c",
		`cp /bin/true /tmp/t && chmod +x /tmp/t && printf 'echo via-sh\n' > /tmp/s.sh && chmod +x /tmp/s.sh && sh /tmp/s.sh && /tmp/t`)
	if exit == 0 || !strings.Contains(out, "via-sh") || !strings.Contains(errOut, "Permission denied") {
		t.Errorf("exec from /tmp: exit %d %q %q; want sh /tmp/s.sh to work and /tmp/t to fail with Permission denied", exit, out, errOut)
	}
	// A caller's own tmpfs at /tmp is kept as asked (the writable-paths
	// bind is not added under it).
	out, errOut, exit = w.oneShot(t, []string{"--tmpfs", "/tmp:exec"}, "sh", "-c", `cp /bin/true /tmp/t && /tmp/t && echo ran`)
	if exit != 0 || out != "ran\n" {
		t.Errorf("--tmpfs /tmp:exec: exit %d %q %q", exit, out, errOut)
	}
}

// setuid binaries do not raise privileges under no-new-privileges: su,
// started by user 1000 and waiting for a password, keeps effective UID 1000
// (under Docker's runc it runs with effective UID 0). (README:
// allowNewPrivileges.)
func (w *workloads) breaksSetuid(t *testing.T) {
	out := w.mustOneShot(t, []string{"-u", "1000:1000"}, "sh", "-c",
		`ls -l /bin/su; grep NoNewPrivs /proc/self/status; (sleep 3 | su root -c id) 2>/dev/null & sleep 1; for p in $(pgrep -x su); do grep ^Uid: /proc/$p/status; done; wait`)
	if !strings.Contains(out, "-rwsr-xr-x 1 root root") || !strings.Contains(out, "NoNewPrivs:\t1") || !strings.Contains(out, "Uid:\t1000\t1000\t1000\t1000") {
		t.Errorf("su as 1000:\n%s\nwant a setuid-root /bin/su whose process keeps uid 1000 in all four fields", out)
	}
}

// What baseline takes away from Docker's defaults, as programs see it:
// raw and packet sockets (NET_RAW; ICMP echo through datagram sockets still
// works thanks to Docker's ping_group_range), chroot (SYS_CHROOT), mknod
// (MKNOD), the deny-listed syscalls, and dlopen of a library kept in a
// noexec state path. Capabilities asked for with --cap-add beyond the
// level are dropped, not refused. (README: allowCapabilities,
// denySyscalls.)
func (w *workloads) breaksCapabilitiesAndSyscalls(t *testing.T) {
	const probe = `
import ctypes, errno, os, shutil, socket
libc = ctypes.CDLL(None, use_errno=True)
def sc(name, nr, *a):
    r = libc.syscall(nr, *a)
    print(name, "EPERM" if r < 0 and ctypes.get_errno() == errno.EPERM else "ret=%d errno=%d" % (r, ctypes.get_errno()))
sc("io_uring_setup", 425, 8, ctypes.create_string_buffer(120))
sc("userfaultfd", 323, 0)
sc("perf_event_open", 298, ctypes.create_string_buffer(128), 0, -1, -1, 0)
sc("unshare(CLONE_NEWUSER)", 272, 0x10000000)
def try_(name, f):
    try: f(); print(name, "ok")
    except OSError as e: print(name, errno.errorcode.get(e.errno, e.errno) if e.errno else e)
try_("raw-icmp", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close())
try_("packet", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close())
try_("dgram-icmp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP).close())
try_("bind-80", lambda: socket.socket().bind(("0.0.0.0", 80)))
try_("chroot", lambda: os.chroot("/"))
try_("mknod", lambda: os.mknod("/dev/shm/null2", 0o20666, os.makedev(1, 3)))
shutil.copy("/usr/lib/x86_64-linux-gnu/libz.so.1", "/tmp/libz.so.1")
try_("dlopen-tmp", lambda: ctypes.CDLL("/tmp/libz.so.1"))
`
	out := w.mustOneShot(t, []string{"--cap-add", "NET_ADMIN", "--cap-add", "SYS_PTRACE"}, "python3", "-c", probe)
	for _, want := range []string{
		"io_uring_setup EPERM", "userfaultfd EPERM", "perf_event_open EPERM", "unshare(CLONE_NEWUSER) EPERM",
		"raw-icmp EPERM", "packet EPERM", "dgram-icmp ok", "bind-80 ok", "chroot EPERM", "mknod EPERM",
		"dlopen-tmp /tmp/libz.so.1: failed to map segment from shared object",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("probe output lacks %q:\n%s", want, out)
		}
	}
	// --cap-add NET_ADMIN and SYS_PTRACE were dropped: baseline's eight
	// capabilities only (CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID
	// SETUID NET_BIND_SERVICE = 0x4fb).
	if out := w.mustOneShot(t, []string{"--cap-add", "NET_ADMIN", "--cap-add", "SYS_PTRACE"}, "grep", "^CapEff:", "/proc/self/status"); out != "CapEff:\t00000000000004fb\n" {
		t.Errorf("--cap-add NET_ADMIN SYS_PTRACE: %q, want the baseline set 0x4fb", out)
	}
}

// TestWorkloadRefusals: what `docker run --privileged` would ask for, the
// Docker socket, the host's namespaces and / are refused, and the one-line
// error reaches docker's output naming the rule and the policy key.
func TestWorkloadRefusals(t *testing.T) {
	img := image(t)
	if _, err := os.Stat("/dev/loop0"); err != nil {
		t.Fatalf("/dev/loop0 is needed as the host device: %v", err)
	}
	hostNet, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	sock := strings.TrimPrefix(dockerd.Host, "unix://")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"PrivilegedEquivalent", []string{"--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--security-opt", "seccomp=unconfined", "--device", "/dev/loop0"},
			[]string{"refused by policy", "host device /dev/loop0", "b 7:0", `"allowDevices"`}},
		{"DockerSocket", []string{"-v", sock + ":/var/run/docker.sock"},
			[]string{"refused by policy", "docker.sock", `"allowHostMounts"`}},
		// Docker puts no network namespace path of /proc/... here: it
		// passes its host-network sandbox, <exec-root>/netns/default, a bind
		// mount of the host's network namespace.
		{"HostNetwork", []string{"--network", "host"},
			[]string{"refused by policy", "host network namespace", `"allowHostNamespaces": ["network"]`}},
		{"HostPID", []string{"--pid", "host"},
			[]string{"refused by policy", "host pid namespace", `"allowHostNamespaces": ["pid"]`}},
		{"HostIPC", []string{"--ipc", "host"},
			[]string{"refused by policy", "host ipc namespace", `"allowHostNamespaces": ["ipc"]`}},
		{"HostRoot", []string{"-v", "/:/host"},
			[]string{"refused by policy", "bind mount of host path / at /host", `"allowHostMounts": ["/"]`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "HostNetwork" {
				// dockerd creates its host-network sandbox (an nsfs bind
				// mount) on first use and does not remove it when it stops;
				// it is dockerd's, not a container's: drop it so that the
				// daemon harness's leak check stays meaningful.
				t.Cleanup(func() {
					unix.Unmount(filepath.Join(dockerd.Dir, "exec", "netns", "default"), unix.MNT_DETACH)
				})
			}
			name := uniqueName("ref")
			args := append(append([]string{"run", "--rm", "--runtime=hardened", "--name", name}, tc.args...), img, "readlink", "/proc/self/ns/net")
			out, errOut, exit := docker(t, args...)
			t.Cleanup(func() { docker(t, "rm", "-f", name) })
			if exit == 0 {
				where := strings.TrimSpace(out)
				if where == hostNet {
					where += ", the host's network namespace"
				}
				t.Fatalf("BUG: docker %s was not refused; the container ran in %s", strings.Join(args, " "), where)
			}
			for _, want := range tc.want {
				if !strings.Contains(errOut, want) {
					t.Errorf("docker run %v: stderr lacks %q:\n%s", tc.args, want, errOut)
				}
			}
			// One line from the runtime: the refusal, not a stack of errors.
			if i := strings.Index(errOut, "refused by policy"); i >= 0 {
				if line, _, _ := strings.Cut(errOut[i:], "\n"); strings.Count(line, "refused by policy") != 1 {
					t.Errorf("refusal repeated on one line: %q", line)
				}
			}
			t.Logf("exit %d: %s", exit, strings.TrimSpace(errOut))
			if ps, _, _ := docker(t, "ps", "-aq", "--filter", "name="+name); strings.TrimSpace(ps) != "" {
				t.Errorf("a refused container is still listed: %s", ps)
			}
		})
	}
}

func fileUID(fi os.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
