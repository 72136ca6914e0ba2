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

// TestReviewPodmanStorage: Podman's and CRI-O's storage, the counterpart
// of /var/lib/docker, was not sensitive: a bind of
// /var/lib/containers/storage exposed every other container's layers and
// named volumes (the world-readable files to a mapped root; everything,
// read-write, to a container without a user namespace). Now it is, but
// for the per-container files the engines bind (userdata: hosts,
// resolv.conf, shm, secrets) and named volumes.
func TestReviewPodmanStorage(t *testing.T) {
	expectAllRefused(t, []attack{
		{name: "the whole storage", tweak: reviewBind("/var/lib/containers/storage", "ro"),
			want: []string{"bind mount of host path /var/lib/containers/storage at /mnt exposes /var/lib/containers", `(rule host-mounts, allow with "allowHostMounts": ["/var/lib/containers/storage"]`}},
		{name: "the layers", tweak: reviewBind("/var/lib/containers/storage/overlay", "ro"),
			want: []string{"/var/lib/containers/storage/overlay at /mnt exposes /var/lib/containers", "rule host-mounts"}},
		{name: "every volume", tweak: reviewBind("/var/lib/containers/storage/volumes"),
			want: []string{"/var/lib/containers/storage/volumes at /mnt exposes /var/lib/containers", "rule host-mounts"}},
		{name: "the run root", tweak: reviewBind("/run/containers/storage", "ro"),
			want: []string{"/run/containers/storage at /mnt exposes /run/containers", "rule host-mounts"}},
	})
}
