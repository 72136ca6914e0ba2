package cri

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// escapesKubeletSecret makes a secret volume of pod uid as the kubelet
// does (/var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~secret/creds,
// holding token, mode 0644) and returns the volume's directory. The
// cleanup removes the pod's directory, and the kubelet's it made.
func escapesKubeletSecret(t *testing.T, uid, content string) string {
	t.Helper()
	var made []string
	for _, d := range []string{"/var/lib/kubelet", "/var/lib/kubelet/pods"} {
		if err := os.Mkdir(d, 0o755); err == nil {
			made = append(made, d)
		} else if !errors.Is(err, os.ErrExist) {
			t.Fatal(err)
		}
	}
	pod := filepath.Join("/var/lib/kubelet/pods", uid)
	t.Cleanup(func() {
		if err := os.RemoveAll(pod); err != nil {
			t.Error(err)
		}
		for i := len(made) - 1; i >= 0; i-- {
			_ = os.Remove(made[i]) // only if nothing else lives there
		}
	})
	dir := filepath.Join(pod, "volumes", "kubernetes.io~secret", "creds")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// testKubeletPodVolumes: a pod's secret volume, where the kubelet keeps
// it, is mounted into that pod's container (containerd annotates the
// pod's UID, io.kubernetes.cri.sandbox-uid, which the host-mounts rule
// compares with the directory's); another pod's is refused.
func testKubeletPodVolumes(t *testing.T, e criEnv) {
	pod := e.c.NewPod("kubelet-volumes")
	own := escapesKubeletSecret(t, pod.Metadata.UID, "own-token\n")
	podID := runPod(t, e, pod)
	ctr := sleeper("app")
	ctr.Mounts = []testutil.CRIMount{{ContainerPath: "/secret", HostPath: own, Readonly: true}}
	id := e.start(t, podID, ctr, pod)
	if got := e.exec(t, id, "cat", "/secret/token"); got != "own-token" {
		t.Errorf("the pod's own secret inside: %q", got)
	}
	if !e.variant.hardened() {
		return
	}
	victim := e.c.NewPod("victim")
	other := escapesKubeletSecret(t, victim.Metadata.UID, "victim-token\n")
	thief := e.c.NewPod("thief")
	c := sleeper("thief")
	c.Mounts = []testutil.CRIMount{{ContainerPath: "/secret", HostPath: other, Readonly: true}}
	expectRefused(t, e, thief, c, "rule host-mounts", "(pod "+victim.Metadata.UID+" is not the container's own pod "+thief.Metadata.UID+")")
}
