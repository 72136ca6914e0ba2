package testutil

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// writeJSON writes v as a JSON file under Dir and returns its path.
func (c *CRI) writeJSON(kind string, v any) (string, error) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(c.Dir, kind+"-*.json")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// RunPod is `crictl runp --runtime handler`: it returns the sandbox ID,
// or an error with crictl's message (what kubelet shows as an event).
func (c *CRI) RunPod(handler string, pod CRIPod) (string, error) {
	path, err := c.writeJSON("pod", pod)
	if err != nil {
		return "", err
	}
	id, err := c.crictl("runp", "--runtime", handler, path)
	if err != nil {
		// A failed RunPodSandbox leaves no sandbox behind; track any.
		c.trackPods()
		return "", err
	}
	c.mu.Lock()
	c.pods[id] = true
	c.ids = append(c.ids, id)
	c.mu.Unlock()
	return id, nil
}

// trackPods records every sandbox containerd lists, so that Stop
// removes and checks them too.
func (c *CRI) trackPods() {
	out, err := c.crictl("pods", "-q")
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range strings.Fields(out) {
		if !c.pods[id] {
			c.pods[id] = true
			c.ids = append(c.ids, id)
		}
	}
}

// CreateContainer is `crictl create`; it returns the container ID.
func (c *CRI) CreateContainer(podID string, ctr CRIContainer, pod CRIPod) (string, error) {
	ctrPath, err := c.writeJSON("container", ctr)
	if err != nil {
		return "", err
	}
	podPath, err := c.writeJSON("pod", pod)
	if err != nil {
		return "", err
	}
	id, err := c.crictl("create", "--no-pull", podID, ctrPath, podPath)
	if err == nil {
		c.mu.Lock()
		c.ids = append(c.ids, id)
		c.mu.Unlock()
	}
	return id, err
}

// StartContainer is `crictl start`.
func (c *CRI) StartContainer(id string) error {
	_, err := c.crictl("start", id)
	return err
}

// RunContainer creates and starts a container in the pod.
func (c *CRI) RunContainer(podID string, ctr CRIContainer, pod CRIPod) (string, error) {
	id, err := c.CreateContainer(podID, ctr, pod)
	if err != nil {
		return "", err
	}
	return id, c.StartContainer(id)
}

// Exec is `crictl exec --sync` (ExecSync): the command's stdout, or an
// error with its exit and stderr.
func (c *CRI) Exec(id string, cmd ...string) (string, error) {
	return c.crictl(append([]string{"exec", "--sync", "--timeout", "60", id}, cmd...)...)
}

// ExecStream is `crictl exec` through containerd's streaming server (as
// `kubectl exec`).
func (c *CRI) ExecStream(id string, cmd ...string) (string, error) {
	return c.crictl(append([]string{"exec", id}, cmd...)...)
}

// Logs is `crictl logs`.
func (c *CRI) Logs(id string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, errOut, exit := c.Crictl(ctx, "logs", id)
	if exit != 0 {
		return "", fmt.Errorf("crictl logs %s: exit %d: %s", id, exit, strings.TrimSpace(errOut))
	}
	return out + errOut, nil
}

// InspectPod is `crictl inspectp -o json`, decoded.
func (c *CRI) InspectPod(id string) (map[string]any, error) {
	return c.inspect("inspectp", id)
}

// Inspect is `crictl inspect -o json` of a container, decoded.
func (c *CRI) Inspect(id string) (map[string]any, error) {
	return c.inspect("inspect", id)
}

func (c *CRI) inspect(cmd, id string) (map[string]any, error) {
	out, err := c.crictl(cmd, "-o", "json", id)
	if err != nil {
		return nil, err
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return nil, fmt.Errorf("crictl %s %s: %w", cmd, id, err)
	}
	return v, nil
}

// PodIP returns the pod's IP address (status.network.ip).
func (c *CRI) PodIP(id string) (string, error) {
	v, err := c.InspectPod(id)
	if err != nil {
		return "", err
	}
	status, _ := v["status"].(map[string]any)
	network, _ := status["network"].(map[string]any)
	ip, _ := network["ip"].(string)
	if ip == "" {
		return "", fmt.Errorf("pod %s: no IP in crictl inspectp", id)
	}
	return ip, nil
}

// ContainerPid returns the host PID of a running container's process
// (info.pid of crictl inspect).
func (c *CRI) ContainerPid(id string) (int, error) {
	v, err := c.Inspect(id)
	if err != nil {
		return 0, err
	}
	info, _ := v["info"].(map[string]any)
	pid, _ := info["pid"].(float64)
	if pid <= 0 {
		return 0, fmt.Errorf("container %s: no pid in crictl inspect", id)
	}
	return int(pid), nil
}

// PodPid returns the host PID of a running pod's sandbox (pause)
// process (info.pid of crictl inspectp).
func (c *CRI) PodPid(id string) (int, error) {
	v, err := c.InspectPod(id)
	if err != nil {
		return 0, err
	}
	info, _ := v["info"].(map[string]any)
	pid, _ := info["pid"].(float64)
	if pid <= 0 {
		return 0, fmt.Errorf("pod %s: no pid in crictl inspectp", id)
	}
	return int(pid), nil
}

// StopPod is `crictl stopp`.
func (c *CRI) StopPod(id string) error {
	_, err := c.crictl("stopp", id)
	return err
}

// RemovePod is `crictl stopp` then `crictl rmp`; then it checks that
// nothing of the pod is left (CheckGone).
func (c *CRI) RemovePod(tb testing.TB, id string) {
	tb.Helper()
	if err := c.StopPod(id); err != nil {
		tb.Errorf("stop pod: %v", err)
	}
	if _, err := c.crictl("rmp", "--force", id); err != nil {
		tb.Errorf("remove pod: %v", err)
	}
	c.mu.Lock()
	delete(c.pods, id)
	c.mu.Unlock()
	c.CheckGone(tb)
}
