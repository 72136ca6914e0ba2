package hardening

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The kubelet's directory is sensitive but for the per-pod files it hands
// to the runtime.
func TestRefuseHostMountsKubelet(t *testing.T) {
	bind := func(src string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
		}
	}
	pod := "/var/lib/kubelet/pods/6f1c9a54-1d2e-4c7b-9a0e-3b5d8c2f7e10"
	runRefusalCases(t, RuleHostMounts, RefuseHostMounts, []refusalCase{
		{name: "a secret volume", tweak: bind(pod + "/volumes/kubernetes.io~secret/token")},
		{name: "an emptyDir", tweak: bind(pod + "/volumes/kubernetes.io~empty-dir/cache")},
		{name: "a subpath", tweak: bind(pod + "/volume-subpaths/config/app/0")},
		{name: "etc-hosts", tweak: bind(pod + "/etc-hosts")},
		{name: "termination log", tweak: bind(pod + "/containers/app/3c2b1a0f")},
		{name: "every pod", tweak: bind("/var/lib/kubelet/pods"),
			want: []string{`bind mount of host path /var/lib/kubelet/pods at /mnt exposes /var/lib/kubelet / "allowHostMounts": ["/var/lib/kubelet/pods"]`}},
		{name: "one pod's directory", tweak: bind(pod), want: []string{`exposes /var/lib/kubelet`}},
		{name: "pod-resources", tweak: bind("/var/lib/kubelet/pod-resources/kubelet.sock"), want: []string{`exposes /var/lib/kubelet`}},
		{name: "an ancestor", tweak: bind("/var/lib"), want: []string{`/var/lib at /mnt exposes /var/lib/docker`}},
		{name: "allowed", tweak: bind("/var/lib/kubelet/pod-resources"), pol: func(p *Policy) { p.AllowHostMounts = []string{"/var/lib/kubelet/pod-resources"} }},
	})
}
