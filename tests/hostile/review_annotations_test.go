package hostile

import (
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// reviewAnnotate sets one annotation.
func reviewAnnotate(k, v string) func(*testing.T, *testutil.Bundle, *specs.Spec) {
	return func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[k] = v
	}
}

// TestReviewRuntimeAnnotations: libcontainer acts on two annotations of
// config.json as host root, and the runtime passed both through.
// "org.criu.config" names a CRIU configuration file that CRIU, run as
// host root by checkpoint and restore, reads with precedence over the
// runtime's own options: an action-script in it runs as host root
// (a file the container wrote in a named volume, at a path the caller
// knows). "org.systemd.property.<Name>" sets any property of the
// container's systemd unit with the systemd cgroup driver (DeviceAllow,
// TasksMax=infinity, Delegate...). Both are now refused by the
// runtime-annotations rule unless the policy lists the key; an empty
// org.criu.config (no configuration file at all) is fine.
func TestReviewRuntimeAnnotations(t *testing.T) {
	expectAllRefused(t, []attack{
		{name: "criu configuration file", tweak: reviewAnnotate("org.criu.config", "/var/lib/docker/volumes/x/_data/criu.conf"),
			want: []string{"annotation org.criu.config", `(rule runtime-annotations, allow with "allowRuntimeAnnotations": ["org.criu.config"]`}},
		{name: "systemd DeviceAllow", tweak: reviewAnnotate("org.systemd.property.DeviceAllow", `[("/dev/sda", "rwm")]`),
			want: []string{"annotation org.systemd.property.DeviceAllow", `"allowRuntimeAnnotations": ["org.systemd.property.DeviceAllow"]`}},
		{name: "systemd TasksMax", tweak: reviewAnnotate("org.systemd.property.TasksMax", "uint64 18446744073709551615"),
			want: []string{"annotation org.systemd.property.TasksMax", "rule runtime-annotations"}},
	})
	t.Run("an empty org.criu.config runs", func(t *testing.T) {
		rt := testutil.NewRuntime(t)
		b := testutil.NewBundle(t, "true")
		b.Edit(t, func(s *specs.Spec) { reviewAnnotate("org.criu.config", "")(t, b, s) })
		rt.RunIn(t, b)
	})
	t.Run("a listed key runs", func(t *testing.T) {
		rt := testutil.NewRuntime(t)
		b := testutil.NewBundle(t, "true")
		b.Edit(t, func(s *specs.Spec) { reviewAnnotate("org.criu.config", "/etc/criu/site.conf")(t, b, s) })
		flag, _ := testutil.WritePolicy(t, `{"allowRuntimeAnnotations": ["org.criu.config"]}`)
		rt.RunIn(t, b, flag)
	})
}

// TestReviewCheckpointAnnotations: a container that carries
// org.criu.config (created under a policy that allowed it, or before the
// runtime-annotations rule) is refused at checkpoint when the policy no
// longer allows it, before CRIU is even looked for: CRIU would read that
// file as host root.
func TestReviewCheckpointAnnotations(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	b.Edit(t, func(s *specs.Spec) { reviewAnnotate("org.criu.config", "/srv/vol/criu.conf")(t, b, s) })
	allowing, _ := testutil.WritePolicy(t, `{"allowRuntimeAnnotations": ["org.criu.config"]}`)
	id := limitsDetached(t, rt, b, allowing)
	_, errOut, exit := rt.Run("checkpoint", "--image-path", t.TempDir(), id)
	if exit == 0 || !strings.Contains(errOut, "annotation org.criu.config") ||
		!strings.Contains(errOut, `(rule runtime-annotations, allow with "allowRuntimeAnnotations": ["org.criu.config"])`) {
		t.Errorf("checkpoint: exit %d, stderr:\n%s", exit, errOut)
	}
	if st := rt.MustState(id); st.Status != "running" {
		t.Errorf("after the refused checkpoint the container is %s", st.Status)
	}
}
