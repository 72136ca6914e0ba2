package hardening

import (
	"path"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Annotations that name the Kubernetes pod (its UID, the kubelet's
// metadata.uid) a container belongs to.
const (
	// AnnotationCRISandboxUID is containerd's (CRI plugin, 1.6.11 and
	// later, 1.7, 2.x): set on the sandbox and on every container of the
	// pod after the pod's pass-through annotations, so a pod's own
	// annotations cannot replace it.
	AnnotationCRISandboxUID = "io.kubernetes.cri.sandbox-uid"
	// AnnotationPodUID is CRI-O's: the kubelet's container label
	// io.kubernetes.pod.uid, which CRI-O writes as an annotation after
	// the pod's own annotations.
	AnnotationPodUID = "io.kubernetes.pod.uid"
)

// kubeletPodsDir is where the kubelet (default --root-dir) keeps one
// directory per pod, named by the pod's UID.
const kubeletPodsDir = "/var/lib/kubelet/pods"

// kubeletPodSources are the entries of a pod's directory the kubelet has
// the runtime bind into that pod's containers: its volumes (secrets,
// service-account tokens, config maps, emptyDirs), volume subpaths, the
// pod's /etc/hosts and the containers' termination logs.
func kubeletPodSources() []string {
	return []string{"volumes", "volume-subpaths", "etc-hosts", "containers"}
}

// PodUID returns the UID of the pod the container belongs to, from the
// annotation its CRI implementation sets (AnnotationCRISandboxUID,
// AnnotationPodUID), or "" when there is none, or two that disagree (one
// of them was not written by the CRI implementation), or one that is not
// a single path component.
func PodUID(s *specs.Spec) string {
	if s == nil {
		return ""
	}
	uid, found := "", false
	for _, key := range []string{AnnotationCRISandboxUID, AnnotationPodUID} {
		v, ok := s.Annotations[key]
		if !ok {
			continue
		}
		if found && v != uid {
			return ""
		}
		uid, found = v, true
	}
	if uid == "." || uid == ".." || strings.ContainsAny(uid, "/\x00") {
		return ""
	}
	return uid
}

// kubeletPodSource splits the clean host path p when it is in one of the
// kubelet's per-pod bind sources (kubeletPodSources) in one of the pod
// directories podsDirs (kubeletPodsDir, and <root>/pods of every further
// kubelet root, engineLayout): <pods dir>/<uid>/<source>[/...]. ok is
// false otherwise.
func kubeletPodSource(p string, podsDirs []string) (uid string, ok bool) {
	for _, dir := range podsDirs {
		rest, found := strings.CutPrefix(p, dir+"/")
		if !found {
			continue
		}
		parts := strings.SplitN(rest, "/", 3)
		if len(parts) < 2 || parts[0] == "" {
			continue
		}
		if slices.Contains(kubeletPodSources(), parts[1]) {
			return parts[0], true
		}
	}
	return "", false
}

// ownPodSource reports whether the clean host path p is in one of the
// kubelet's per-pod bind sources of the pod podUID (not empty), in one of
// the pod directories podsDirs.
func ownPodSource(p, podUID string, podsDirs []string) bool {
	uid, ok := kubeletPodSource(path.Clean(p), podsDirs)
	return ok && podUID != "" && uid == podUID
}

// otherPodNote explains why a bind of the clean host path p, one of the
// kubelet's per-pod bind sources, was not allowed as the container's own:
// "" when p is no such source (in one of the pod directories podsDirs).
func otherPodNote(p, podUID string, podsDirs []string) string {
	uid, ok := kubeletPodSource(p, podsDirs)
	switch {
	case !ok:
		return ""
	case podUID == "":
		return " (a pod's directory is bound only into that pod's containers; the container has no pod UID: annotation " +
			AnnotationCRISandboxUID + " or " + AnnotationPodUID + " missing or disagreeing)"
	default:
		return " (pod " + uid + " is not the container's own pod " + podUID + ")"
	}
}
