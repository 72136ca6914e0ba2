package packaging

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

const (
	installedBin    = "/usr/bin/hardened"
	installedPolicy = "/etc/hardened/policy.json"
)

// buildDeb runs `make deb` into a temporary directory and returns the
// package's path.
func buildDeb(t *testing.T) string {
	t.Helper()
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	version, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	mustRun(t, 10*time.Minute, "make", "-C", root, "deb", "OUTPUT="+out)
	debVersion := strings.ReplaceAll(strings.TrimSpace(string(version)), "-", "~") + "-1"
	deb := filepath.Join(out, "hardened_"+debVersion+"_amd64.deb")
	if _, err := os.Stat(deb); err != nil {
		t.Fatalf("make deb did not produce %s: %v", deb, err)
	}
	return deb
}

// TestDebianPackage builds the package, lints it, installs it, runs a
// container through the installed binary with the installed policy, and
// purges it.
func TestDebianPackage(t *testing.T) {
	testutil.RequireRoot(t)
	if _, _, code := run(t, time.Minute, "dpkg", "-s", "hardened"); code == 0 {
		t.Skip("the package hardened is already installed here; not touching it")
	}
	if _, err := os.Stat(installedPolicy); err == nil {
		t.Skipf("%s exists and belongs to no package: not overwriting the host's policy", installedPolicy)
	}
	if _, err := exec.LookPath("lintian"); err != nil {
		t.Fatal("lintian is not installed (hack/install-deps.sh installs it)")
	}
	deb := buildDeb(t)

	t.Run("lintian", func(t *testing.T) {
		out, errOut, _ := run(t, 5*time.Minute, "lintian", "--pedantic", deb)
		for _, line := range strings.Split(out+errOut, "\n") {
			if strings.HasPrefix(line, "E: ") {
				t.Errorf("lintian: %s", line)
			} else if line != "" {
				t.Logf("lintian: %s", line)
			}
		}
	})

	t.Run("depends covers every linked library", func(t *testing.T) {
		depends := mustRun(t, time.Minute, "dpkg-deb", "-f", deb, "Depends")
		dir := t.TempDir()
		mustRun(t, time.Minute, "dpkg-deb", "-x", deb, dir)
		for _, lib := range neededLibraries(t, filepath.Join(dir, "usr/bin/hardened")) {
			pkg := packageOfLibrary(t, lib)
			if !regexp.MustCompile(`(^|, )` + regexp.QuoteMeta(pkg) + ` \(>= [0-9.]+\)`).MatchString(depends) {
				t.Errorf("the binary links %s from package %s, but Depends is %q", lib, pkg, strings.TrimSpace(depends))
			}
		}
	})

	// dpkg -i overwrites a /usr/bin/hardened that no package owns (a
	// `make install`), and --purge removes it: keep it and put it back.
	if data, err := os.ReadFile(installedBin); err == nil {
		t.Cleanup(func() {
			if err := os.WriteFile(installedBin, data, 0o755); err != nil {
				t.Errorf("restore %s: %v", installedBin, err)
			}
		})
	}
	t.Cleanup(func() {
		// Whatever happened above, leave no package behind.
		if _, _, code := run(t, time.Minute, "dpkg", "-s", "hardened"); code == 0 {
			if out, errOut, code := run(t, 2*time.Minute, "dpkg", "--purge", "hardened"); code != 0 {
				t.Errorf("cleanup: dpkg --purge hardened: exit %d: %s %s", code, out, errOut)
			}
		}
	})
	mustRun(t, 2*time.Minute, "dpkg", "-i", deb)
	files := strings.Fields(mustRun(t, time.Minute, "dpkg-query", "-L", "hardened"))

	t.Run("installed files", func(t *testing.T) {
		version := mustRun(t, time.Minute, installedBin, "--version")
		root, _ := testutil.ModuleRoot()
		want, _ := os.ReadFile(filepath.Join(root, "VERSION"))
		if !strings.HasPrefix(version, "hardened version "+strings.TrimSpace(string(want))+"\n") {
			t.Errorf("--version: %q, want the VERSION file's %q", version, want)
		}
		conffiles := mustRun(t, time.Minute, "dpkg-query", "-W", "-f", "${Conffiles}", "hardened")
		if !strings.Contains(conffiles, installedPolicy) {
			t.Errorf("%s is not a conffile: %q", installedPolicy, conffiles)
		}
		// The installed policy is the built-in default.
		fromFile := mustRun(t, time.Minute, installedBin, "--policy", installedPolicy, "policy")
		builtin := mustRun(t, time.Minute, "env", "-u", "HARDENED_POLICY", installedBin, "--policy", "", "policy")
		if fromFile != builtin {
			t.Errorf("%s differs from the built-in default:\n%s\nvs\n%s", installedPolicy, fromFile, builtin)
		}
		for _, f := range []string{
			"/usr/share/man/man8/hardened.8.gz", "/usr/share/man/man5/hardened-policy.5.gz",
			"/usr/share/doc/hardened/copyright", "/usr/share/doc/hardened/changelog.Debian.gz",
			"/usr/share/bash-completion/completions/hardened",
		} {
			if _, err := os.Stat(f); err != nil {
				t.Error(err)
			}
		}
		completion := mustRun(t, time.Minute, "bash", "-c",
			`source /usr/share/bash-completion/completions/hardened; COMP_WORDS=(hardened insta); COMP_CWORD=1; _hardened; echo "${COMPREPLY[*]}"; COMP_WORDS=(hardened install ""); COMP_CWORD=2; _hardened; echo "${COMPREPLY[*]}"`)
		if completion != "install\ndocker containerd podman help h\n" {
			t.Errorf("bash completion: %q", completion)
		}
	})

	t.Run("container through the installed binary", func(t *testing.T) {
		t.Setenv(testutil.EnvBinary, installedBin)
		t.Setenv("HARDENED_POLICY", "")
		rt := testutil.NewRuntime(t)
		b := testutil.NewBundle(t, "sh", "-c", "echo hello; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; touch /x 2>/dev/null || echo rootfs-readonly")
		id := rt.NewID()
		out := rt.MustRun("run", "--bundle", b.Dir, id)
		for _, want := range []string{"hello", "NoNewPrivs:\t1", "Seccomp:\t2", "rootfs-readonly"} {
			if !strings.Contains(out, want) {
				t.Errorf("container output lacks %q:\n%s", want, out)
			}
		}
		rt.MustRun("delete", "--force", id)
	})

	mustRun(t, 2*time.Minute, "dpkg", "--purge", "hardened")
	t.Run("purge leaves nothing", func(t *testing.T) {
		if out, _, _ := run(t, time.Minute, "dpkg-query", "-W", "-f", "${db:Status-Status}", "hardened"); out != "" && out != "not-installed" {
			t.Errorf("after purge, dpkg status %q", out)
		}
		for _, f := range files {
			info, err := os.Lstat(f)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			// dpkg keeps a directory other packages (or files) still use.
			if err == nil && info.IsDir() && !strings.Contains(f, "hardened") {
				continue
			}
			t.Errorf("left after purge: %s (%v)", f, err)
		}
		for _, f := range []string{"/etc/hardened", "/usr/share/doc/hardened", installedBin} {
			if _, err := os.Lstat(f); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s left after purge (%v)", f, err)
			}
		}
	})
}

// neededLibraries returns the binary's DT_NEEDED entries.
func neededLibraries(t *testing.T, bin string) []string {
	t.Helper()
	var libs []string
	for _, line := range strings.Split(mustRun(t, time.Minute, "objdump", "-p", bin), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "NEEDED" {
			libs = append(libs, f[1])
		}
	}
	if len(libs) == 0 {
		t.Fatalf("%s: no NEEDED entries", bin)
	}
	return libs
}

// packageOfLibrary finds the package shipping a shared library by its
// soname, through the linker cache and dpkg -S.
func packageOfLibrary(t *testing.T, soname string) string {
	t.Helper()
	for _, line := range strings.Split(mustRun(t, time.Minute, "ldconfig", "-p"), "\n") {
		name, path, ok := strings.Cut(strings.TrimSpace(line), " => ")
		if !ok || !strings.HasPrefix(name, soname+" ") || !strings.Contains(name, "x86-64") {
			continue
		}
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			continue
		}
		for _, p := range []string{path, real, strings.Replace(real, "/usr/lib/", "/lib/", 1)} {
			if out, _, code := run(t, time.Minute, "dpkg", "-S", p); code == 0 {
				pkg, _, _ := strings.Cut(out, ":")
				return pkg
			}
		}
	}
	t.Fatalf("no package found for %s", soname)
	return ""
}
