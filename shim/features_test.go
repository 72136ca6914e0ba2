package shim

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/opencontainers/runc/libcontainer/seccomp"
	runcfeatures "github.com/opencontainers/runc/types/features"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	specfeatures "github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/internal/features"
)

// decodeFeatures runs the features command and decodes its output the way
// containerd does.
func decodeFeatures(t *testing.T, args ...string) *specfeatures.Features {
	t.Helper()
	var out, errOut bytes.Buffer
	app := newApp(BuildInfo{Version: "9.9.9"}, &out, &errOut)
	if err := app.Run(append([]string{"hardened", "features"}, args...)); err != nil {
		t.Fatalf("features: %v (stderr %q)", err, errOut.String())
	}
	var f specfeatures.Features
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("decoding features output: %v\n%s", err, out.String())
	}
	return &f
}

func TestFeaturesCommandOutput(t *testing.T) {
	f := decodeFeatures(t)
	if f.OCIVersionMin != "1.0.0" || f.OCIVersionMax != specs.Version {
		t.Errorf("OCI versions = %q..%q, want 1.0.0..%s", f.OCIVersionMin, f.OCIVersionMax, specs.Version)
	}
	if f.Linux == nil {
		t.Fatal("no linux section")
	}
	for _, ns := range []string{"user", "cgroup", "mount", "pid", "network", "ipc", "uts", "time"} {
		if !slices.Contains(f.Linux.Namespaces, ns) {
			t.Errorf("namespaces %q lack %q", f.Linux.Namespaces, ns)
		}
	}
	for _, c := range []string{"CAP_SYS_ADMIN", "CAP_NET_RAW", "CAP_CHOWN", "CAP_AUDIT_WRITE"} {
		if !slices.Contains(f.Linux.Capabilities, c) {
			t.Errorf("capabilities lack %s", c)
		}
	}
	for _, h := range []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"} {
		if !slices.Contains(f.Hooks, h) {
			t.Errorf("hooks %q lack %q", f.Hooks, h)
		}
	}
	for _, o := range []string{"ro", "nosuid", "nodev", "rbind"} {
		if !slices.Contains(f.MountOptions, o) {
			t.Errorf("mount options lack %q", o)
		}
	}
	if got := f.Annotations[features.AnnotationVersion]; got != "9.9.9" {
		t.Errorf("annotation %s = %q, want the binary's version", features.AnnotationVersion, got)
	}
	if got := f.Annotations[runcfeatures.AnnotationRuncCheckpointEnabled]; got != "true" {
		t.Errorf("checkpoint annotation = %q, want \"true\"", got)
	}
	if _, ok := f.Annotations[runcfeatures.AnnotationRuncCommit]; ok {
		t.Error("the runc commit annotation is runc's own; we must not set it")
	}
	cg := f.Linux.Cgroup
	if cg == nil || !isTrue(cg.V1) || !isTrue(cg.V2) || !isTrue(cg.Systemd) {
		t.Errorf("cgroup = %+v, want v1, v2 and systemd", cg)
	}
	if f.Linux.MountExtensions == nil || f.Linux.MountExtensions.IDMap == nil || f.Linux.MountExtensions.IDMap.Enabled == nil {
		t.Fatal("mountExtensions.idmap.enabled missing: containerd reads it for hostUsers: false pods")
	}
	if got, want := *f.Linux.MountExtensions.IDMap.Enabled, idmap.KernelHasMountSetattr(); got != want {
		t.Errorf("idmap enabled = %v, kernel has mount_setattr = %v", got, want)
	}
	if !slices.Contains(f.PotentiallyUnsafeConfigAnnotations, "org.criu.config") {
		t.Errorf("unsafe annotations %q lack org.criu.config", f.PotentiallyUnsafeConfigAnnotations)
	}
}

func TestFeaturesSeccomp(t *testing.T) {
	f := decodeFeatures(t)
	sc := f.Linux.Seccomp
	if sc == nil || sc.Enabled == nil {
		t.Fatal("seccomp.enabled missing")
	}
	if *sc.Enabled != seccomp.Enabled {
		t.Fatalf("seccomp.enabled = %v, built with libseccomp = %v", *sc.Enabled, seccomp.Enabled)
	}
	_, hasVersion := f.Annotations[runcfeatures.AnnotationLibseccompVersion]
	if !seccomp.Enabled {
		if len(sc.Actions) != 0 || hasVersion {
			t.Errorf("without libseccomp no actions or version may be listed: %+v", sc)
		}
		t.Skip("built without the seccomp tag")
	}
	if !hasVersion {
		t.Error("libseccomp version annotation missing")
	}
	for _, a := range []string{"SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_NOTIFY"} {
		if !slices.Contains(sc.Actions, a) {
			t.Errorf("seccomp actions %q lack %s", sc.Actions, a)
		}
	}
	if !slices.Contains(sc.Operators, "SCMP_CMP_MASKED_EQ") {
		t.Errorf("seccomp operators %q lack SCMP_CMP_MASKED_EQ", sc.Operators)
	}
	for _, a := range []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"} {
		if !slices.Contains(sc.Archs, a) {
			t.Errorf("seccomp archs lack %s", a)
		}
	}
	for _, fl := range sc.SupportedFlags {
		if !slices.Contains(sc.KnownFlags, fl) {
			t.Errorf("supported flag %s is not among the known flags %q", fl, sc.KnownFlags)
		}
	}
}

func TestFeaturesRejectsArguments(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	app := newApp(BuildInfo{}, &out, &errOut)
	if err := app.Run([]string{"hardened", "features", "extra"}); err == nil {
		t.Fatal("features with an argument succeeded")
	}
	if out.Len() != 0 {
		t.Errorf("printed %q on error", out.String())
	}
}

func isTrue(b *bool) bool { return b != nil && *b }
