package hardening

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RuntimeAnnotationPrefix is the prefix of the annotations libcontainer
// turns into properties of the container's systemd unit.
const RuntimeAnnotationPrefix = "org.systemd.property."

// RuntimeAnnotationCRIUConfig is the annotation naming the CRIU
// configuration file that checkpoint and restore hand to CRIU.
const RuntimeAnnotationCRIUConfig = "org.criu.config"

// RefuseRuntimeAnnotations is the runtime-annotations rule.
//
// Threat: libcontainer acts on two kinds of annotations as host root.
// "org.criu.config" names a configuration file that CRIU, run as root by
// checkpoint and restore, reads with precedence over the runtime's own
// options: an action-script in it runs on the host as root, a log file
// lands anywhere. "org.systemd.property.<Name>" sets any property of the
// container's systemd unit with the systemd cgroup driver: DeviceAllow
// (host devices, applied again on every daemon-reload), TasksMax or
// MemoryMax=infinity (past the policy's limits), Delegate, Slice. The
// runtime's own policy never needs them.
//
// Fields (read only): annotations "org.criu.config" (an empty value,
// which means no configuration file, is fine) and every
// "org.systemd.property.*".
//
// Relaxed by: "allowRuntimeAnnotations" (annotation keys, matched
// exactly: "org.criu.config", "org.systemd.property.TimeoutStopSec").
func RefuseRuntimeAnnotations(s *specs.Spec, pol *Policy, _ HostFacts, r *Report) error {
	keys := make([]string, 0, len(s.Annotations))
	for k, v := range s.Annotations {
		if (k == RuntimeAnnotationCRIUConfig && v != "") || strings.HasPrefix(k, RuntimeAnnotationPrefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if slices.Contains(pol.AllowRuntimeAnnotations, k) {
			continue
		}
		what := "makes CRIU read a configuration file as host root at checkpoint and restore"
		if k != RuntimeAnnotationCRIUConfig {
			what = "sets a property of the container's systemd unit"
		}
		r.refuse(RuleRuntimeAnnotations, fmt.Sprintf("annotation %s %s", k, what), fmt.Sprintf(`"allowRuntimeAnnotations": [%q]`, k))
	}
	return nil
}

// validRuntimeAnnotation reports whether k is a key the
// runtime-annotations rule refuses, so that allowing it means something.
func validRuntimeAnnotation(k string) bool {
	name, ok := strings.CutPrefix(k, RuntimeAnnotationPrefix)
	return k == RuntimeAnnotationCRIUConfig || (ok && name != "")
}

// CheckCheckpointAnnotations runs the runtime-annotations rule over the
// annotations a container was created with, for checkpoint: a container
// created before the rule, or under a policy that allowed the key,
// would otherwise hand CRIU its configuration file. pol is the current
// effective policy of the container. In enforce mode a refusal is an
// error wrapping ErrRefused; in audit and off mode nothing is refused.
func CheckCheckpointAnnotations(annotations map[string]string, pol *Policy) error {
	if pol == nil {
		pol = DefaultPolicy()
	}
	rep := &Report{Mode: pol.Mode, Level: pol.Level}
	if pol.Mode != ModeEnforce {
		return nil
	}
	if err := RefuseRuntimeAnnotations(&specs.Spec{Annotations: annotations}, pol, HostFacts{}, rep); err != nil {
		return err
	}
	if rep.Refused() {
		return rep.Err(pol.Level)
	}
	return nil
}
