package cri

import (
	"path/filepath"
	"testing"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// testKubeletPodVolumes: a pod's secret volume, where the kubelet keeps
// it, is mounted into that pod's container (containerd annotates the
// pod's UID, io.kubernetes.cri.sandbox-uid, which the host-mounts rule
// compares with the directory's); another pod's is refused.
func testKubeletPodVolumes(t *testing.T, e criEnv) {
	pod := e.c.NewPod("kubelet-volumes")
	own := filepath.Dir(testutil.KubeletPodSecret(t, pod.Metadata.UID, "own-token\n"))
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
	other := filepath.Dir(testutil.KubeletPodSecret(t, victim.Metadata.UID, "victim-token\n"))
	thief := e.c.NewPod("thief")
	c := sleeper("thief")
	c.Mounts = []testutil.CRIMount{{ContainerPath: "/secret", HostPath: other, Readonly: true}}
	expectRefused(t, e, thief, c, "rule host-mounts", "(pod "+victim.Metadata.UID+" is not the container's own pod "+thief.Metadata.UID+")")
}
