package testutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// KubeletPodSecret makes a secret volume of pod uid as the kubelet does,
// /var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~secret/creds/token
// (mode 0644) holding content, and returns the token's path. The cleanup
// removes the pod's directory, and the kubelet's directories it made.
func KubeletPodSecret(t *testing.T, uid, content string) string {
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
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return token
}
