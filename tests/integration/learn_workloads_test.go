package integration

// Learned profiles for real programs: nginx serving over a unix socket,
// PostgreSQL initdb + queries, a python script, each learned (two runs),
// then run again under its enforced profile, which must allow at most a
// third of the system calls Docker's default profile allows. The rootfs
// is the Debian image the e2e suite builds (testutil.DebianTarball); the
// test skips when it is not in the cache.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// debianRootfs extracts the cached Debian rootfs once per test.
func debianRootfs(t *testing.T) string {
	t.Helper()
	// Built once per package list and cached (the e2e suite uses it too).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	tarball, err := testutil.DebianTarball(ctx, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, err := exec.Command("tar", "-xf", tarball, "-C", rootfs).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	t.Logf("Debian rootfs extracted in %s", time.Since(start).Round(time.Millisecond))
	return rootfs
}

// debianBundle is a bundle of rootfs (shared, read-only to the
// container) running args as uid:gid in pod namespace ns. The shared tree
// is bind-mounted at the bundle's rootfs, as an engine mounts an image
// there: a plain directory outside the bundle is refused (host-rootfs).
func debianBundle(t *testing.T, rootfs, ns string, uid, gid uint32, args ...string) *testutil.Bundle {
	t.Helper()
	b := testutil.NewBundle(t, args...)
	if err := unix.Mount(rootfs, b.Rootfs, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for unix.Unmount(b.Rootfs, unix.MNT_DETACH) == nil {
		}
	})
	b.Edit(t, func(s *specs.Spec) {
		s.Root.Path = "rootfs"
		s.Root.Readonly = true
		s.Process.User = specs.User{UID: uid, GID: gid}
		s.Process.Env = append(s.Process.Env, "HOME=/tmp", "LANG=C.UTF-8")
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[learnPodAnnotation] = ns
	})
	return b
}

// enforcedCounts runs `profile show key` and returns how many system calls
// the enforced profile allows and how many Docker's default profile does.
func enforcedCounts(t *testing.T, rt *testutil.Runtime, key string) (enforced, docker int) {
	t.Helper()
	out := rt.MustRun("profile", "show", key)
	m := regexp.MustCompile(`enforced, it allows (\d+) system calls; the policy's profile allows \d+, Docker's default (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("profile show %s: no counts in %q", key, out)
	}
	enforced, _ = strconv.Atoi(m[1])
	docker, _ = strconv.Atoi(m[2])
	return enforced, docker
}

// learnAndEnforce learns key from two runs of b (check validates each
// run's output), enforces it on a third run and checks the ratio.
func learnAndEnforce(t *testing.T, rt *testutil.Runtime, dir, ns, key string, b *testutil.Bundle, check func(out string) error) {
	t.Helper()
	learnFlag := learnPolicy(t, ns, "learn", key)
	for i := 1; i <= 2; i++ {
		if err := check(rt.RunIn(t, b, learnFlag)); err != nil {
			t.Fatalf("learning run %d: %v", i, err)
		}
		learnedProfile(t, dir, key, i)
	}
	start := time.Now()
	if err := check(rt.RunIn(t, b, learnPolicy(t, ns, "enforce", key))); err != nil {
		t.Fatalf("under the enforced profile: %v (denied: %v)", err, auditDenials(t, rt))
	}
	t.Logf("%s under its enforced profile: %s", key, time.Since(start).Round(time.Millisecond))
	if d := auditDenials(t, rt); len(d) != 0 {
		t.Errorf("calls denied under the learned profile: %v", d)
	}
	enforced, docker := enforcedCounts(t, rt, key)
	t.Logf("%s: the enforced profile allows %d system calls, Docker's default %d (%.0f%%)", key, enforced, docker, 100*float64(enforced)/float64(docker))
	if enforced*3 > docker {
		t.Errorf("%s: the enforced profile allows %d system calls, more than a third of Docker's %d", key, enforced, docker)
	}
}

func TestLearnDebianWorkloads(t *testing.T) {
	rt, dir := learnSetup(t)
	rootfs := debianRootfs(t)

	t.Run("python", func(t *testing.T) {
		const script = `import hashlib, json, sqlite3
db = sqlite3.connect(":memory:")
db.execute("create table t(a)")
db.executemany("insert into t values (?)", [(i,) for i in range(100)])
print(json.dumps({"sum": db.execute("select sum(a) from t").fetchone()[0], "sha": hashlib.sha256(b"x").hexdigest()[:8]}))`
		b := debianBundle(t, rootfs, "py", 65534, 65534, "python3", "-c", script)
		learnAndEnforce(t, rt, dir, "py", "python", b, func(out string) error {
			if strings.TrimSpace(out) != `{"sum": 4950, "sha": "2d711642"}` {
				return fmt.Errorf("stdout %q", out)
			}
			return nil
		})
	})

	t.Run("postgres", func(t *testing.T) {
		// /tmp is the shared rootfs's (a writable path): each run its own
		// directory.
		const script = `export PATH=/usr/lib/postgresql/15/bin:$PATH
d=$(mktemp -d /tmp/pg.XXXXXX)
initdb -D $d/data -A trust >$d/initdb.log 2>&1 || { cat $d/initdb.log; exit 1; }
pg_ctl -D $d/data -o "-k $d -c listen_addresses=''" -w -l $d/pg.log start >/dev/null || { cat $d/pg.log; exit 1; }
psql -h $d -d postgres -Atc "create table t(a int); insert into t select generate_series(1, 1000); select sum(a) from t;"
pg_ctl -D $d/data -m fast -w stop >/dev/null
rm -rf $d`
		b := debianBundle(t, rootfs, "pg", 100, 102, "sh", "-c", script)
		learnAndEnforce(t, rt, dir, "pg", "postgres", b, func(out string) error {
			if !strings.Contains(out, "500500") {
				return fmt.Errorf("stdout %q, want the sum 500500", out)
			}
			return nil
		})
	})

	t.Run("nginx", func(t *testing.T) {
		sockDir := t.TempDir()
		if err := os.Chmod(sockDir, 0o777); err != nil {
			t.Fatal(err)
		}
		conf := `worker_processes 1;
pid nginx.pid;
error_log stderr;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path body;
	proxy_temp_path proxy;
	fastcgi_temp_path fastcgi;
	uwsgi_temp_path uwsgi;
	scgi_temp_path scgi;
	server {
		listen unix:/srv/sock/nginx.sock;
		location / { root /usr/share/nginx/html; }
	}
}
`
		if err := os.WriteFile(filepath.Join(sockDir, "nginx.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		// As www-data, with its files under a directory of its own (/tmp is
		// the shared rootfs's).
		b := debianBundle(t, rootfs, "web", 33, 33, "sh", "-c", `d=$(mktemp -d /tmp/nginx.XXXXXX) && exec nginx -p $d -c /srv/sock/nginx.conf -g "daemon off;" 2>/dev/null`)
		b.Edit(t, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/srv/sock", Type: "bind", Source: sockDir, Options: []string{"rbind", "rw"}})
		})
		sock := filepath.Join(sockDir, "nginx.sock")
		client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}, Timeout: 5 * time.Second}
		// serve runs nginx detached under flag, makes n requests and
		// returns how long they took; the container is then removed.
		serve := func(flag string, n int) (time.Duration, error) {
			os.Remove(sock)
			id := rt.NewID()
			if out, errOut, exit := rt.Run(flag, "run", "--detach", "--bundle", b.Dir, id); exit != 0 {
				return 0, fmt.Errorf("run: exit %d: %s%s", exit, out, errOut)
			}
			defer rt.Run("delete", "--force", id)
			// nginx binds the socket before it listens: ready is a
			// connection accepted.
			deadline := time.Now().Add(10 * time.Second)
			for {
				conn, err := net.Dial("unix", sock)
				if err == nil {
					conn.Close()
					break
				}
				if time.Now().After(deadline) {
					return 0, fmt.Errorf("nginx did not listen within 10 s: %w", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			start := time.Now()
			for i := range n {
				resp, err := client.Get("http://nginx/index.html")
				if err != nil {
					return 0, fmt.Errorf("request %d: %w", i, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(body), "nginx") {
					return 0, fmt.Errorf("request %d: %s %q", i, resp.Status, body)
				}
			}
			return time.Since(start), nil
		}
		const requests = 300
		learnFlag := learnPolicy(t, "web", "learn", "nginx")
		for i := 1; i <= 2; i++ {
			if _, err := serve(learnFlag, requests); err != nil {
				t.Fatalf("learning run %d: %v", i, err)
			}
			learnedProfile(t, dir, "nginx", i)
		}
		enforceFlag := learnPolicy(t, "web", "enforce", "nginx")
		defaultFlag, _ := testutil.WritePolicy(t, `{}`)
		var took [3]time.Duration
		for round := range 3 {
			for i, flag := range []string{defaultFlag, learnFlag, enforceFlag} {
				d, err := serve(flag, requests)
				if err != nil {
					t.Fatalf("round %d, policy %d: %v (denied: %v)", round, i, err, auditDenials(t, rt))
				}
				took[i] += d
			}
		}
		t.Logf("nginx, %d requests x 3 rounds: default policy %s, learning %s, enforced profile %s",
			requests, took[0].Round(time.Millisecond), took[1].Round(time.Millisecond), took[2].Round(time.Millisecond))
		if d := auditDenials(t, rt); len(d) != 0 {
			t.Errorf("calls denied under the learned profile: %v", d)
		}
		enforced, docker := enforcedCounts(t, rt, "nginx")
		t.Logf("nginx: the enforced profile allows %d system calls, Docker's default %d (%.0f%%)", enforced, docker, 100*float64(enforced)/float64(docker))
		if enforced*3 > docker {
			t.Errorf("nginx: the enforced profile allows %d system calls, more than a third of Docker's %d", enforced, docker)
		}
	})
}
