package hardening

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The kubelet's directory is sensitive but for the per-pod files it hands
// to the runtime, and those only to the pod's own containers.
func TestRefuseHostMountsKubelet(t *testing.T) {
	const uid, other = "6f1c9a54-1d2e-4c7b-9a0e-3b5d8c2f7e10", "0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"
	// bind binds src read-only at /mnt, the spec annotated with ann.
	bind := func(src string, ann map[string]string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Annotations = ann
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
		}
	}
	containerd := map[string]string{AnnotationCRISandboxUID: uid}
	crio := map[string]string{AnnotationPodUID: uid}
	pod := "/var/lib/kubelet/pods/" + uid
	otherPod := "/var/lib/kubelet/pods/" + other
	runRefusalCases(t, RuleHostMounts, RefuseHostMounts, []refusalCase{
		{name: "a secret volume", tweak: bind(pod+"/volumes/kubernetes.io~secret/token", containerd)},
		{name: "an emptyDir", tweak: bind(pod+"/volumes/kubernetes.io~empty-dir/cache", containerd)},
		{name: "a subpath", tweak: bind(pod+"/volume-subpaths/config/app/0", containerd)},
		{name: "etc-hosts", tweak: bind(pod+"/etc-hosts", containerd)},
		{name: "termination log", tweak: bind(pod+"/containers/app/3c2b1a0f", containerd)},
		{name: "CRI-O's annotation", tweak: bind(pod+"/volumes/kubernetes.io~secret/token", crio)},
		{name: "both annotations agreeing", tweak: bind(pod+"/etc-hosts", map[string]string{AnnotationCRISandboxUID: uid, AnnotationPodUID: uid})},
		{name: "another pod's secret", tweak: bind(otherPod+"/volumes/kubernetes.io~secret/token", containerd),
			want: []string{`bind mount of host path ` + otherPod + `/volumes/kubernetes.io~secret/token at /mnt exposes /var/lib/kubelet (pod ` + other + ` is not the container's own pod ` + uid + `) / "allowHostMounts": ["` + otherPod + `/volumes/kubernetes.io~secret/token"]`}},
		{name: "another pod's termination log", tweak: bind(otherPod+"/containers/app/3c2b1a0f", crio), want: []string{"is not the container's own pod"}},
		{name: "no pod UID", tweak: bind(pod+"/volumes/kubernetes.io~secret/token", nil),
			want: []string{"exposes /var/lib/kubelet (a pod's directory is bound only into that pod's containers; the container has no pod UID"}},
		{name: "annotations disagreeing", tweak: bind(pod+"/volumes/kubernetes.io~secret/token", map[string]string{AnnotationCRISandboxUID: other, AnnotationPodUID: uid}),
			want: []string{"the container has no pod UID"}},
		{name: "an empty pod UID", tweak: bind("/var/lib/kubelet/pods//volumes/x", map[string]string{AnnotationCRISandboxUID: ""}), want: []string{"exposes /var/lib/kubelet"}},
		{name: "a pod UID escaping", tweak: bind("/var/lib/kubelet/pods/volumes", map[string]string{AnnotationCRISandboxUID: ".."}), want: []string{"exposes /var/lib/kubelet"}},
		{name: "the own pod's plugin directory", tweak: bind(pod+"/plugins", containerd), want: []string{"exposes /var/lib/kubelet"}},
		{name: "every pod", tweak: bind("/var/lib/kubelet/pods", containerd),
			want: []string{`bind mount of host path /var/lib/kubelet/pods at /mnt exposes /var/lib/kubelet / "allowHostMounts": ["/var/lib/kubelet/pods"]`}},
		{name: "one pod's directory", tweak: bind(pod, containerd), want: []string{`exposes /var/lib/kubelet`}},
		{name: "pod-resources", tweak: bind("/var/lib/kubelet/pod-resources/kubelet.sock", containerd), want: []string{`exposes /var/lib/kubelet`}},
		{name: "an ancestor", tweak: bind("/var/lib", nil), want: []string{`/var/lib at /mnt exposes /var/lib/docker`}},
		{name: "allowed", tweak: bind("/var/lib/kubelet/pod-resources", nil), pol: func(p *Policy) { p.AllowHostMounts = []string{"/var/lib/kubelet/pod-resources"} }},
		{name: "another pod's, allowed", tweak: bind(otherPod+"/volumes/x", containerd), pol: func(p *Policy) { p.AllowHostMounts = []string{otherPod} }},
	})
}

// PodUID takes the pod from the CRI implementations' annotations only
// when they agree.
func TestPodUID(t *testing.T) {
	for _, tc := range []struct {
		name string
		ann  map[string]string
		want string
	}{
		{name: "none"},
		{name: "containerd", ann: map[string]string{AnnotationCRISandboxUID: "u1"}, want: "u1"},
		{name: "CRI-O", ann: map[string]string{AnnotationPodUID: "u1"}, want: "u1"},
		{name: "agreeing", ann: map[string]string{AnnotationCRISandboxUID: "u1", AnnotationPodUID: "u1"}, want: "u1"},
		{name: "disagreeing", ann: map[string]string{AnnotationCRISandboxUID: "u1", AnnotationPodUID: "u2"}},
		{name: "one empty", ann: map[string]string{AnnotationCRISandboxUID: "", AnnotationPodUID: "u2"}},
		{name: "a path", ann: map[string]string{AnnotationCRISandboxUID: "u1/../u2"}},
		{name: "dot dot", ann: map[string]string{AnnotationPodUID: ".."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := PodUID(&specs.Spec{Annotations: tc.ann}); got != tc.want {
				t.Errorf("PodUID = %q, want %q", got, tc.want)
			}
		})
	}
}
