package hostile

import (
	"testing"
)

// TestReviewKubeletDirectory: the kubelet's directory was not among the
// host paths a bind mount may not expose, though it holds every pod's
// volumes: their secrets, service-account tokens and config maps are
// tmpfs files of mode 0644, readable by any user, a container's mapped
// root included. A config.json binding /var/lib/kubelet/pods read every
// pod's secrets on the node; /var/lib/kubelet/pod-resources and
// device-plugins hold sockets of the kubelet's APIs. Now the kubelet's
// directory is sensitive, but for the per-pod files the kubelet hands to
// the runtime (a pod's volumes, volume subpaths, etc-hosts, termination
// logs).
func TestReviewKubeletDirectory(t *testing.T) {
	expectAllRefused(t, []attack{
		{name: "every pod's volumes", tweak: reviewBind("/var/lib/kubelet/pods", "ro"),
			want: []string{"bind mount of host path /var/lib/kubelet/pods at /mnt exposes /var/lib/kubelet", `(rule host-mounts, allow with "allowHostMounts": ["/var/lib/kubelet/pods"]`}},
		{name: "one pod's whole directory", tweak: reviewBind("/var/lib/kubelet/pods/0f1e2d3c", "ro"),
			want: []string{"/var/lib/kubelet/pods/0f1e2d3c at /mnt exposes /var/lib/kubelet", "rule host-mounts"}},
		{name: "the kubelet itself", tweak: reviewBind("/var/lib/kubelet", "ro"), want: []string{"bind mount of host path /var/lib/kubelet at /mnt", "rule host-mounts"}},
		{name: "pod-resources socket", tweak: reviewBind("/var/lib/kubelet/pod-resources"), want: []string{"/var/lib/kubelet/pod-resources at /mnt", "rule host-mounts"}},
	})
}
