package hardening

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadPolicyDefaults(t *testing.T) {
	t.Parallel()
	p, err := LoadPolicy("")
	if err != nil || !reflect.DeepEqual(p, DefaultPolicy()) {
		t.Fatalf("LoadPolicy(\"\") = %+v, %v", p, err)
	}
	p.WritablePaths[0] = "/changed"
	if DefaultPolicy().WritablePaths[0] != "/tmp" {
		t.Error("DefaultPolicy shares state between calls")
	}
	if _, err := os.Stat(DefaultPolicyPath); errors.Is(err, os.ErrNotExist) {
		p, err := LoadPolicy(DefaultPolicyPath)
		if err != nil || !reflect.DeepEqual(p, DefaultPolicy()) {
			t.Errorf("missing default file: %+v, %v", p, err)
		}
	}
	if _, err := LoadPolicy(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing non-default file: %v", err)
	}
}

func TestLoadPolicyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "policy.json")
	body := `{"level": "restricted", "allowCapabilities": ["net_raw", "CAP_SYS_TIME"], "pidsLimit": 0,
	  "exceptions": [{"match": {"io.kubernetes.pod.namespace": "kube-system"}, "allow": {"allowHostNamespaces": ["network"]}}]}`
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultPolicy()
	want.Level = LevelRestricted
	want.AllowCapabilities = []string{"CAP_NET_RAW", "CAP_SYS_TIME"}
	want.PidsLimit = 0
	want.Exceptions = []Exception{{Match: map[string]string{"io.kubernetes.pod.namespace": "kube-system"}, Allow: Allowances{AllowHostNamespaces: []string{"network"}}}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("policy\n%+v\nwant\n%+v", p, want)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, want string }{
		{`{"levle": "baseline"}`, `unknown key "levle"`},
		{`{"mode": "enforce"} {}`, "trailing data"},
		{`{"mode": "enforce"} x`, "trailing data"},
		{`{"mode": "strict"}`, `key "mode": "strict" is not enforce, audit or off`},
		{`{"level": "privileged"}`, `key "level"`},
		{`{"pidsLimit": -5}`, `key "pidsLimit"`},
		{`{"pidsLimit": "many"}`, `key "pidsLimit": want int64`},
		{`{"allowCapabilities": ["CAP_GODMODE"]}`, `key "allowCapabilities": "CAP_GODMODE" is not a known capability`},
		{`{"allowHostNamespaces": ["time"]}`, `key "allowHostNamespaces"`},
		{`{"allowUnrelatedJoins": ["net"]}`, `key "allowUnrelatedJoins": "net" is not one of pid, network`},
		{`{"allowSharedCgroups": "yes"}`, `key "allowSharedCgroups"`},
		{`{"exceptions": [{"match": {"io.kubernetes.pod.namespace": "x"}, "allow": {"allowUnrelatedJoins": ["host"]}}]}`, `key "exceptions[0].allow.allowUnrelatedJoins"`},
		{`{"allowHostMounts": ["var/run"]}`, `key "allowHostMounts": "var/run" is not an absolute path`},
		{`{"allowDevices": ["/dev/fuse"]}`, `key "allowDevices"`},
		{`{"allowSysctls": ["kernel core"]}`, `key "allowSysctls"`},
		{`{"denySyscalls": ["Bad Name"]}`, `key "denySyscalls"`},
		{`{"writablePaths": ["/"]}`, `key "writablePaths"`},
		{`{"allowRootfs": ["/"]}`, `key "allowRootfs": "/" is the host itself`},
		{`{"allowRootfs": ["/var/../"]}`, `key "allowRootfs": "/" is the host itself`},
		{`{"allowRootfs": ["opt"]}`, `key "allowRootfs": "opt" is not an absolute path`},
		{`{"exceptions": [{"match": {"io.kubernetes.pod.name": "x"}, "allow": {"allowRootfs": ["/opt"]}}]}`, `unknown key "allowRootfs"`},
		{`{"exceptions": [{"match": {"com.example/trusted": "yes"}, "allow": {}}]}`, `key "exceptions[0].match": "com.example/trusted" is not an orchestrator-set annotation`},
		{`{"exceptions": [{"match": {}, "allow": {}}]}`, `key "exceptions[0].match"`},
		{`{"exceptions": [{"match": {"io.kubernetes.pod.name": "*"}}]}`, `needs a value more specific`},
		{`{"exceptions": [{"match": {"io.kubernetes.pod.name": "x"}, "allow": {"allowCapabilities": ["bogus"]}}]}`, `key "exceptions[0].allow.allowCapabilities"`},
		{`{"exceptions": [{"match": {"io.kubernetes.pod.name": "x"}, "allow": {"mode": "off"}}]}`, `unknown key "mode"`},
		{``, "empty file"},
		{`{"mode": `, "malformed JSON"},
	} {
		_, err := ParsePolicy("/etc/hardened/policy.json", []byte(tc.body))
		if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "/etc/hardened/policy.json") {
			t.Errorf("%s: err = %v, want %q", tc.body, err, tc.want)
		}
	}
}

func TestForAnnotations(t *testing.T) {
	t.Parallel()
	p, err := ParsePolicy("p.json", []byte(`{"exceptions": [
	  {"match": {"io.kubernetes.pod.namespace": "kube-system", "io.kubernetes.container.name": "cilium-*"},
	   "allow": {"allowHostNamespaces": ["network"], "allowCapabilities": ["NET_ADMIN"]}},
	  {"match": {"nerdctl/name": "fuse-box"}, "allow": {"allowDevices": ["c 10:229"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	eff, matched := p.ForAnnotations(map[string]string{"io.kubernetes.pod.namespace": "kube-system", "io.kubernetes.container.name": "cilium-agent"})
	if !reflect.DeepEqual(matched, []int{0}) || !reflect.DeepEqual(eff.AllowHostNamespaces, []string{"network"}) || !reflect.DeepEqual(eff.AllowCapabilities, []string{"CAP_NET_ADMIN"}) {
		t.Errorf("matched %v, eff %+v", matched, eff)
	}
	if len(p.AllowHostNamespaces) != 0 {
		t.Error("ForAnnotations modified the policy")
	}
	for _, ann := range []map[string]string{
		nil,
		{"io.kubernetes.pod.namespace": "kube-system"},                                         // one key of two
		{"io.kubernetes.pod.namespace": "default", "io.kubernetes.container.name": "cilium-x"}, // wrong value
		{"io.kubernetes.pod.namespace": "kube-system", "io.kubernetes.container.name": "xcilium-"},
	} {
		if _, m := p.ForAnnotations(ann); len(m) != 0 {
			t.Errorf("%v matched %v", ann, m)
		}
	}
	// Through Harden: the exception lets the host network through, only
	// for the matching container.
	s := exampleSpec()
	withoutNS("network")(s)
	if _, err := Harden(s, p, allDirs("/bundles/example/rootfs")); !errors.Is(err, ErrRefused) {
		t.Errorf("no annotations: %v", err)
	}
	s.Annotations = map[string]string{"io.kubernetes.pod.namespace": "kube-system", "io.kubernetes.container.name": "cilium-agent"}
	rep, err := Harden(s, p, allDirs("/bundles/example/rootfs"))
	if err != nil || !reflect.DeepEqual(rep.Exceptions, []int{0}) {
		t.Errorf("with annotations: %v %+v", err, rep)
	}
}

// TestAllowancesAddCoversEveryKey: an exception widens every key of
// Allowances, and the effective policy shares no list with the host's (a
// key added to Allowances but forgotten in add or clone fails here).
func TestAllowancesAddCoversEveryKey(t *testing.T) {
	t.Parallel()
	var b Allowances
	bv := reflect.ValueOf(&b).Elem()
	for i := 0; i < bv.NumField(); i++ {
		f := bv.Field(i)
		switch f.Kind() {
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		default:
			t.Fatalf("Allowances.%s: kind %s not covered by this test", bv.Type().Field(i).Name, f.Kind())
		}
	}
	var a Allowances
	a.add(b)
	av := reflect.ValueOf(a)
	for i := 0; i < av.NumField(); i++ {
		if av.Field(i).IsZero() {
			t.Errorf("add leaves Allowances.%s unset", av.Type().Field(i).Name)
		}
	}
	c := a.clone()
	cv := reflect.ValueOf(c)
	for i := 0; i < cv.NumField(); i++ {
		if f := cv.Field(i); f.Kind() == reflect.Slice && f.Pointer() == av.Field(i).Pointer() {
			t.Errorf("clone shares Allowances.%s", cv.Type().Field(i).Name)
		}
	}
}
