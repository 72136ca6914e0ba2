package hardening

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/pelletier/go-toml/v2/unstable"
)

// EngineConfigDirEnv, when set, names a directory read instead of /etc
// for the engines' own configuration files (GatherEngineRoots). Meant
// for tests, which must not write the host's /etc/docker/daemon.json.
const EngineConfigDirEnv = "HARDENED_ENGINE_CONFIG_DIR"

// maxEngineConfigSize bounds what is read of one engine configuration
// file; a larger file adds nothing.
const maxEngineConfigSize = 1 << 20

// EngineConfigDir returns the directory the engines' configuration is
// read from: /etc, or EngineConfigDirEnv.
func EngineConfigDir() string {
	if d := os.Getenv(EngineConfigDirEnv); d != "" {
		return d
	}
	return "/etc"
}

// GatherEngineRoots fills f.EngineRoots with the engines' state roots
// that the host's own configuration of them under etc (EngineConfigDir)
// names: Docker's docker/daemon.json "data-root" (or the older "graph"),
// containerd's containerd/config.toml top-level "root" and "state", and
// containers/storage's containers/storage.conf "graphroot" (table
// [storage]); and, for these and the default roots, the path each
// resolves to when it is a symlink (/var/lib/docker -> /data/docker).
// A missing, unreadable or malformed file, or a file over 1 MiB, adds
// nothing, nor does a value that is not an absolute path or is "/". The
// files are the host's (config.json names none of them); a couple of
// reads per create, no process scan.
func GatherEngineRoots(etc string, f *HostFacts) {
	found := map[string][]string{}
	if data := readEngineConfig(filepath.Join(etc, "docker", "daemon.json")); data != nil {
		var daemon struct {
			DataRoot string `json:"data-root"`
			Graph    string `json:"graph"`
		}
		if json.Unmarshal(data, &daemon) == nil {
			found[EngineDocker] = []string{daemon.DataRoot, daemon.Graph}
		}
	}
	if data := readEngineConfig(filepath.Join(etc, "containerd", "config.toml")); data != nil {
		v := tomlTableStrings(data, "", "root", "state")
		found[EngineContainerd] = []string{v["root"]}
		found[EngineContainerdState] = []string{v["state"]}
	}
	if data := readEngineConfig(filepath.Join(etc, "containers", "storage.conf")); data != nil {
		found[EngineContainersStorage] = []string{tomlTableStrings(data, "storage", "graphroot")["graphroot"]}
	}
	for kind, def := range defaultEngineRoots() {
		for _, r := range append(found[kind], def) {
			if r == "" || !filepath.IsAbs(r) {
				continue
			}
			r = filepath.Clean(r)
			f.addEngineRoot(kind, r)
			// One lstat of the root itself: a root moved by a
			// symlink in one of its parents is not seen.
			if fi, err := os.Lstat(r); err == nil && fi.Mode()&os.ModeSymlink != 0 {
				if resolved, err := filepath.EvalSymlinks(r); err == nil {
					f.addEngineRoot(kind, resolved)
				}
			}
		}
	}
}

// addEngineRoot adds root to f.EngineRoots[kind] unless it is "/", the
// kind's default or already there.
func (f *HostFacts) addEngineRoot(kind, root string) {
	if root == "/" || root == defaultEngineRoots()[kind] || slices.Contains(f.EngineRoots[kind], root) {
		return
	}
	if f.EngineRoots == nil {
		f.EngineRoots = map[string][]string{}
	}
	f.EngineRoots[kind] = append(f.EngineRoots[kind], root)
}

// readEngineConfig returns the contents of the regular file at path, or
// nil when it cannot be read, is larger than maxEngineConfigSize or grows
// while it is read.
func readEngineConfig(path string) []byte {
	file, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxEngineConfigSize {
		return nil
	}
	// One byte more than the size: a file that grew since is not read.
	data := make([]byte, fi.Size()+1)
	n, err := io.ReadFull(file, data)
	if int64(n) > fi.Size() || (err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF)) {
		return nil
	}
	return data[:n]
}

// tomlTableStrings returns the string values of keys in table ("": the
// root table, before the first header) of the TOML document data, read
// no further than the end of that table; a key absent, or not a string,
// is missing. A syntax error ends the reading.
func tomlTableStrings(data []byte, table string, keys ...string) map[string]string {
	out := map[string]string{}
	var p unstable.Parser
	p.Reset(data)
	current, array := "", false
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			if current == table && !array {
				return out
			}
			current, array = tomlKey(e.Key()), e.Kind == unstable.ArrayTable
		case unstable.KeyValue:
			if current != table || array {
				continue
			}
			if k, v := tomlKey(e.Key()), e.Value(); v.Kind == unstable.String && slices.Contains(keys, k) {
				out[k] = string(v.Data)
			}
		}
	}
	return out
}

// tomlKey joins the parts of a key with dots (a part holding a dot is not
// told apart: no key read here has one).
func tomlKey(it unstable.Iterator) string {
	key := ""
	for it.Next() {
		if key != "" {
			key += "."
		}
		key += string(it.Node().Data)
	}
	return key
}
