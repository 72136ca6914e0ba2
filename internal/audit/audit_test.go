package audit

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hardened-runtime/hardened/hardening"
)

// readRecords decodes every line of the files given, failing on a line
// that is no whole record (interleaved writes would make one).
func readRecords(t *testing.T, paths ...string) []Record {
	t.Helper()
	var out []Record
	for _, p := range paths {
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r Record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: line %q: %v", p, sc.Text(), err)
			}
			out = append(out, r)
		}
		f.Close()
	}
	return out
}

// TestConcurrentWriters: 8 writers of 50 records each, with rotation: no
// line is torn or lost, and at most Keep rotated files remain.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := Log{Path: filepath.Join(dir, "audit.log"), MaxSize: 64 << 10, Keep: 100}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				rec := &Record{Event: EventCreate, ID: "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i), Mode: "enforce",
					Notes: []hardening.Note{{Rule: "x", Message: strings.Repeat("n", 700)}}}
				if err := l.Write(rec); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	paths := []string{l.Path}
	for i := 1; i <= 100; i++ {
		paths = append(paths, l.Path+"."+strconv.Itoa(i))
	}
	recs := readRecords(t, paths...)
	if len(recs) != 400 {
		t.Errorf("%d records, want 400", len(recs))
	}
	if _, err := os.Stat(l.Path + ".1"); err != nil {
		t.Errorf("no rotation after ~300 KB with maxSize 64 KB: %v", err)
	}
}

// TestRotationKeeps: rotation keeps Keep files and drops the oldest.
func TestRotationKeeps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := Log{Path: filepath.Join(dir, "audit.log"), MaxSize: 1000, Keep: 2}
	for i := range 10 {
		if err := l.Write(&Record{Event: EventCreate, ID: strconv.Itoa(i), Notes: []hardening.Note{{Message: strings.Repeat("n", 1000)}}}); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "audit.log.1 audit.log.2 audit.log.lock" {
		t.Errorf("files %v, want audit.log.1 audit.log.2 and the lock", names)
	}
	if recs := readRecords(t, l.Path+".1"); len(recs) != 1 || recs[0].ID != "9" {
		t.Errorf("newest rotated file holds %+v, want record 9", recs)
	}
}

// TestDisabled: a Log without a path writes no file.
func TestDisabled(t *testing.T) {
	t.Parallel()
	if err := (Log{}).Write(&Record{ID: "x"}); err != nil {
		t.Fatal(err)
	}
}

// TestNoFollow: a symlink planted at the log path is not followed.
func TestNoFollow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "audit.log")); err != nil {
		t.Fatal(err)
	}
	if err := (Log{Path: filepath.Join(dir, "audit.log")}).Write(&Record{ID: "x"}); err == nil {
		t.Error("wrote through a symlink")
	}
	if b, _ := os.ReadFile(target); len(b) != 0 {
		t.Errorf("target got %q", b)
	}
}

func TestDescribeWorkload(t *testing.T) {
	t.Parallel()
	dockerRoot := t.TempDir()
	id := "0123456789ab"
	if err := os.MkdirAll(filepath.Join(dockerRoot, "containers", id), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dockerRoot, "containers", id, "config.v2.json"), []byte(`{"Name":"/web","Config":{"Image":"nginx:1.25"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		root       string
		ann        map[string]string
		dockerRoot string
		want       Workload
		str        string
	}{
		{"docker", "/run/docker/runtime-runc/moby", nil, dockerRoot, Workload{Engine: EngineDocker, Name: "web", Image: "nginx:1.25"}, "container web, image nginx:1.25"},
		{"docker without its state", "/run/docker/runtime-hardened/moby", nil, "", Workload{Engine: EngineDocker}, ""},
		{"cri", "/run/containerd/runc/k8s.io", map[string]string{
			"io.kubernetes.cri.sandbox-name": "web-0", "io.kubernetes.cri.sandbox-namespace": "shop",
			"io.kubernetes.cri.container-name": "app", "io.kubernetes.cri.image-name": "nginx:1.25",
			"io.kubernetes.cri.container-type": "container",
		}, "", Workload{Engine: EngineCRI, Namespace: "shop", Pod: "web-0", Name: "app", Image: "nginx:1.25"}, "pod shop/web-0, container app, image nginx:1.25"},
		{"cri sandbox", "/run/containerd/runc/k8s.io", map[string]string{
			"io.kubernetes.cri.sandbox-name": "web-0", "io.kubernetes.cri.sandbox-namespace": "shop", "io.kubernetes.cri.container-type": "sandbox",
		}, "", Workload{Engine: EngineCRI, Namespace: "shop", Pod: "web-0", Name: "(sandbox)"}, "pod shop/web-0, container (sandbox)"},
		{"containerd ctr", "/run/containerd/hardened/default", nil, "", Workload{Engine: EngineContainerd, Namespace: "default"}, ""},
		{"nerdctl", "/run/containerd/runc/default", map[string]string{"nerdctl/name": "db"}, "", Workload{Engine: EngineNerdctl, Namespace: "default", Name: "db"}, "container db"},
		{"direct", "/run/hardened", nil, "", Workload{Engine: EngineDirect}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := DescribeWorkload(tt.root, id, tt.ann, tt.dockerRoot)
			if got != tt.want {
				t.Errorf("DescribeWorkload = %+v, want %+v", got, tt.want)
			}
			if got.String() != tt.str {
				t.Errorf("String = %q, want %q", got.String(), tt.str)
			}
		})
	}
}

// TestDockerNameNotPlanted: a config.v2.json others can write, or a
// symlink to one, names nothing.
func TestDockerNameNotPlanted(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "containers", "abcd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(root, "real.json")
	if err := os.WriteFile(real, []byte(`{"Name":"/spoofed","Config":{"Image":"x"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(dir, "config.v2.json")); err != nil {
		t.Fatal(err)
	}
	if w := DescribeWorkload("/run/docker/runtime-runc/moby", "abcd", nil, root); w.Name != "" {
		t.Errorf("name %q through a symlink", w.Name)
	}
	os.Remove(filepath.Join(dir, "config.v2.json"))
	if err := os.WriteFile(filepath.Join(dir, "config.v2.json"), []byte(`{"Name":"/spoofed"}`), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "config.v2.json"), 0o666); err != nil {
		t.Fatal(err)
	}
	if w := DescribeWorkload("/run/docker/runtime-runc/moby", "abcd", nil, root); w.Name != "" {
		t.Errorf("name %q from a file others can write", w.Name)
	}
}

// TestJournal: a record reaches a journald-like socket as one datagram of
// the native protocol, the JSON record length-prefixed in
// HARDENED_RECORD; no socket is no error.
func TestJournal(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "socket")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rec := &Record{Event: EventRefused, ID: "c1", Workload: Workload{Engine: EngineCRI, Pod: "web-0", Namespace: "shop", Name: "app"},
		Mode: "enforce", Level: "baseline", Refusals: []hardening.Refusal{{Rule: "privileged", Reason: "privileged container", Allow: `"allowPrivileged": true`}}}
	if err := (Log{JournalSocket: sock}).Write(rec); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<16)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	msg := string(buf[:n])
	for _, want := range []string{
		"MESSAGE=hardened refused c1 (containerd-cri pod shop/web-0, container app): mode enforce, level baseline, 0 changes, 1 refusals, 0 warnings; privileged container (rule privileged)\n",
		"SYSLOG_IDENTIFIER=hardened\n", "PRIORITY=4\n", "HARDENED_ID=c1\n", "HARDENED_POD=web-0\n", "HARDENED_RECORD\n",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("datagram lacks %q:\n%q", want, msg)
		}
	}
	_, after, _ := strings.Cut(msg, "HARDENED_RECORD\n")
	size := binary.LittleEndian.Uint64([]byte(after[:8]))
	var back Record
	if err := json.Unmarshal([]byte(after[8:8+size]), &back); err != nil || back.ID != "c1" || len(back.Refusals) != 1 {
		t.Errorf("HARDENED_RECORD %q: %v", after[8:], err)
	}
	if err := (Log{JournalSocket: filepath.Join(t.TempDir(), "none")}).Write(rec); err != nil {
		t.Errorf("no journal: %v", err)
	}
}
