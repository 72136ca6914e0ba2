package hardening

import (
	"errors"
	"strings"
	"testing"
)

func TestLearnFor(t *testing.T) {
	t.Parallel()
	pol, err := ParsePolicy("test", []byte(`{"learn": [
		{"match": {"io.kubernetes.pod.namespace": "shop", "io.kubernetes.container.name": "db"}, "mode": "enforce", "key": "shop-db"},
		{"match": {"io.kubernetes.cri.image-name": "docker.io/library/nginx*"}, "mode": "learn", "key": "nginx"},
		{"match": {"io.kubernetes.pod.namespace": "shop"}, "mode": "learn", "keyFrom": ["io.kubernetes.pod.namespace", "io.kubernetes.container.name"]},
		{"match": {}, "mode": "learn", "keyFrom": ["nerdctl/name"]}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		ann      map[string]string
		wantKey  string
		wantMode string
	}{
		{"first entry wins", map[string]string{"io.kubernetes.pod.namespace": "shop", "io.kubernetes.container.name": "db"}, "shop-db", LearnModeEnforce},
		{"prefix match", map[string]string{"io.kubernetes.cri.image-name": "docker.io/library/nginx:1.27"}, "nginx", LearnModeLearn},
		{"prefix mismatch", map[string]string{"io.kubernetes.cri.image-name": "docker.io/library/redis:7"}, "", ""},
		{"key from annotations", map[string]string{"io.kubernetes.pod.namespace": "shop", "io.kubernetes.container.name": "web"}, "shop_web", LearnModeLearn},
		{"key sanitized", map[string]string{"io.kubernetes.pod.namespace": "shop", "io.kubernetes.container.name": "../../etc/x"}, "shop__._.._etc_x", LearnModeLearn},
		{"keyFrom annotation missing: next entry", map[string]string{"io.kubernetes.pod.namespace": "shop", "nerdctl/name": "web1"}, "web1", LearnModeLearn},
		{"empty match matches all", map[string]string{"nerdctl/name": ".hidden"}, "_hidden", LearnModeLearn},
		{"no entry", map[string]string{"io.kubernetes.pod.namespace": "other"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := pol.LearnFor(tc.ann)
			if ok != (tc.wantKey != "") || got.Key != tc.wantKey || got.Mode != tc.wantMode {
				t.Errorf("LearnFor(%v) = %+v, %v; want key %q mode %q", tc.ann, got, ok, tc.wantKey, tc.wantMode)
			}
			if ok && !ValidLearnKey(got.Key) {
				t.Errorf("key %q is not valid", got.Key)
			}
		})
	}
}

func TestLearnPolicyValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, policy, want string
	}{
		{"bad mode", `{"learn": [{"mode": "record", "key": "a"}]}`, `key "learn[0].mode": "record" is not learn or enforce`},
		{"no key", `{"learn": [{"mode": "learn"}]}`, `key "learn[0].key": set exactly one of "key" and "keyFrom"`},
		{"both keys", `{"learn": [{"mode": "learn", "key": "a", "keyFrom": ["nerdctl/name"]}]}`, `set exactly one`},
		{"path in key", `{"learn": [{"mode": "learn", "key": "../a"}]}`, `key "learn[0].key": "../a" is not`},
		{"caller annotation", `{"learn": [{"match": {"com.example/app": "x"}, "mode": "learn", "key": "a"}]}`, `"com.example/app" is not an orchestrator-set annotation`},
		{"caller annotation in keyFrom", `{"learn": [{"mode": "learn", "keyFrom": ["app"]}]}`, `key "learn[0].keyFrom": "app" is not an orchestrator-set annotation`},
		{"glob-only value", `{"learn": [{"match": {"nerdctl/name": "*"}, "mode": "learn", "key": "a"}]}`, `needs a value more specific`},
		{"unknown key", `{"learn": [{"mode": "learn", "key": "a", "dir": "/tmp"}]}`, `unknown key "dir"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy("p.json", []byte(tc.policy))
			if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParsePolicy(%s) = %v, want ErrInvalidPolicy with %q", tc.policy, err, tc.want)
			}
		})
	}
}

func TestValidLearnKey(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]bool{
		"nginx": true, "shop_web-1.2": true, "": false, ".x": false, "-x": false, "a/b": false, "a b": false,
		strings.Repeat("a", 128): true, strings.Repeat("a", 129): false, "..": false,
	} {
		if got := ValidLearnKey(key); got != want {
			t.Errorf("ValidLearnKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestLearnForWorkloadKeys(t *testing.T) {
	t.Parallel()
	pol, err := ParsePolicy("test", []byte(`{"learn": [
		{"match": {"workload.engine": "docker", "workload.image": "nginx*"}, "mode": "enforce", "keyFrom": ["workload.image"]},
		{"match": {"workload.engine": "docker"}, "mode": "learn", "keyFrom": ["workload.name"]}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := pol.LearnFor(map[string]string{"workload.engine": "docker", "workload.image": "nginx:1.27", "workload.name": "web"})
	if !ok || got.Key != "nginx_1.27" || got.Mode != LearnModeEnforce {
		t.Errorf("docker nginx: %+v %v, want enforce nginx_1.27", got, ok)
	}
	got, ok = pol.LearnFor(map[string]string{"workload.engine": "docker", "workload.image": "redis", "workload.name": "cache"})
	if !ok || got.Key != "cache" || got.Mode != LearnModeLearn {
		t.Errorf("docker redis: %+v %v, want learn cache", got, ok)
	}
}
