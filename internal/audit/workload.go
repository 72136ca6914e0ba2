package audit

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Engines, as recorded.
const (
	EngineDocker     = "docker"
	EngineContainerd = "containerd"
	EngineCRI        = "containerd-cri"
	EngineNerdctl    = "nerdctl"
	EngineCRIO       = "cri-o"
	EngineDirect     = "hardened"
)

// Workload says what a container is to the people who run it: its engine,
// name, image and pod, read from the annotations orchestrators set and,
// for Docker, from Docker's own state.
type Workload struct {
	// Engine is docker, containerd, containerd-cri, nerdctl, cri-o or
	// hardened (called directly).
	Engine string `json:"engine"`
	// Namespace is the containerd namespace (from the state root) or the
	// Kubernetes namespace of the pod.
	Namespace string `json:"namespace,omitempty"`
	// Pod is the Kubernetes pod name.
	Pod string `json:"pod,omitempty"`
	// Name is the container's name (Docker's, nerdctl's, or the
	// Kubernetes container name).
	Name string `json:"name,omitempty"`
	// Image is the image reference.
	Image string `json:"image,omitempty"`
}

// DescribeWorkload returns the Workload of a container from its state root
// and annotations; dockerRoot, when not empty, is Docker's data root, whose
// containers/<id>/config.v2.json gives the name and image.
func DescribeWorkload(root, id string, ann map[string]string, dockerRoot string) Workload {
	w := Workload{Engine: EngineFromRoot(root)}
	if ns, ok := containerdNamespace(root); ok {
		w.Namespace = ns
	}
	switch {
	case ann["io.kubernetes.cri.sandbox-name"] != "" || ann["io.kubernetes.cri.container-type"] != "":
		w.Engine = EngineCRI
		w.Namespace = ann["io.kubernetes.cri.sandbox-namespace"]
		w.Pod = ann["io.kubernetes.cri.sandbox-name"]
		w.Name = ann["io.kubernetes.cri.container-name"]
		w.Image = ann["io.kubernetes.cri.image-name"]
		if w.Name == "" && ann["io.kubernetes.cri.container-type"] == "sandbox" {
			w.Name = "(sandbox)"
		}
	case ann["io.kubernetes.pod.name"] != "":
		w.Engine = EngineCRIO
		w.Namespace = ann["io.kubernetes.pod.namespace"]
		w.Pod = ann["io.kubernetes.pod.name"]
		w.Name = ann["io.kubernetes.container.name"]
	case ann["nerdctl/name"] != "":
		w.Engine = EngineNerdctl
		w.Name = ann["nerdctl/name"]
		if ns := ann["nerdctl/namespace"]; ns != "" {
			w.Namespace = ns
		}
	}
	if w.Engine == EngineDocker && dockerRoot != "" {
		w.Name, w.Image = dockerNameImage(dockerRoot, id)
	}
	return w
}

// String is the workload for a message: "pod default/web, container app"
// or "docker container web (nginx)"; "" when nothing is known.
func (w Workload) String() string {
	var parts []string
	if w.Pod != "" {
		parts = append(parts, "pod "+w.Namespace+"/"+w.Pod)
	}
	if w.Name != "" {
		parts = append(parts, "container "+w.Name)
	}
	if w.Image != "" {
		parts = append(parts, "image "+w.Image)
	}
	return strings.Join(parts, ", ")
}

// EngineFromRoot names the engine whose state root root is: Docker's
// runc root ends in runtime-<name>/moby, containerd's is
// /run/containerd/<runtime>/<namespace>.
func EngineFromRoot(root string) string {
	clean := filepath.Clean(root)
	if filepath.Base(clean) == "moby" && strings.HasPrefix(filepath.Base(filepath.Dir(clean)), "runtime-") {
		return EngineDocker
	}
	if _, ok := containerdNamespace(clean); ok {
		return EngineContainerd
	}
	return EngineDirect
}

// containerdNamespace returns the namespace of a containerd state root
// (/run/containerd/<runtime>/<namespace>).
func containerdNamespace(root string) (string, bool) {
	clean := filepath.Clean(root)
	parent := filepath.Dir(filepath.Dir(clean))
	if filepath.Base(parent) == "containerd" && filepath.Base(clean) != "moby" {
		return filepath.Base(clean), true
	}
	return "", false
}

// dockerNameImage reads the name and image of a Docker container from
// <dockerRoot>/containers/<id>/config.v2.json (Docker's own state,
// trusted like the state root); empty strings when it cannot.
func dockerNameImage(dockerRoot, id string) (string, string) {
	f, err := os.OpenFile(filepath.Join(dockerRoot, "containers", id, "config.v2.json"), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	// Docker's own file: a regular file of root's that only root writes.
	// The data root comes from a bind source of config.json, which the
	// caller writes; a file only root can make cannot be planted there.
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Uid != 0 || st.Mode&0o022 != 0 {
		return "", ""
	}
	var cfg struct {
		Name   string
		Config struct{ Image string }
	}
	if err := json.NewDecoder(io.LimitReader(f, maxDockerConfig)).Decode(&cfg); err != nil {
		return "", ""
	}
	return strings.TrimPrefix(cfg.Name, "/"), cfg.Config.Image
}

// maxDockerConfig bounds how much of Docker's config.v2.json is read.
const maxDockerConfig = 4 << 20
