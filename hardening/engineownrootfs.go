package hardening

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	hardenedspec "github.com/hardened-runtime/hardened/spec"
)

// maxStorageRecordsSize bounds what is read of one containers/storage
// record file (containers.json): a few KiB per container.
const maxStorageRecordsSize = 64 << 20

// defaultStorageRunRoot is containers/storage's default run root, where
// CRI-O and Buildah keep a container's bundle (its userdata directory).
const defaultStorageRunRoot = "/run/containers/storage"

// rootfsEngineOwn reports whether the overlay rootfs f.Rootfs is the one
// its engine mounted for this container, as the engine's own layout and
// records say: EngineOwnOverlay (containerd's bundle, Docker's
// OwnDockerRoot), Docker's layer store naming it as container id's
// (dockerLayerOwnsRootfs: a container sharing another's network has that
// one's /etc/hosts), or containers/storage's records giving its layer to
// the container whose userdata directory holds the bundle
// (storageOwnsRootfs). bundleReal is the bundle with symlinks resolved;
// storageRoots are the graph roots of containers/storage.
func rootfsEngineOwn(s *specs.Spec, f HostFacts, id, bundleReal string, dockerRoots, storageRoots []string) bool {
	if EngineOwnOverlay(s, f, id) {
		return true
	}
	rootfs := filepath.Clean(f.Rootfs)
	return dockerLayerOwnsRootfs(rootfs, id, dockerRoots) || storageOwnsRootfs(rootfs, bundleReal, storageRoots)
}

// dockerLayerOwnsRootfs reports whether rootfs is <root>/overlay2/<m>/merged
// for a Docker data root of dockerRoots whose layer store (a file of
// root's, dockerMountID) gives container id the layer m, or, with the
// containerd image store, <root>/rootfs/<snapshotter>/<id> (as
// OwnDockerRoot).
func dockerLayerOwnsRootfs(rootfs, id string, dockerRoots []string) bool {
	if !isPlainName(id) {
		return false
	}
	if dir := filepath.Dir(rootfs); filepath.Base(rootfs) == id && filepath.Base(filepath.Dir(dir)) == "rootfs" && containsDockerRoot(dockerRoots, filepath.Dir(filepath.Dir(dir))) {
		return true
	}
	if filepath.Base(rootfs) != "merged" {
		return false
	}
	layerDir := filepath.Dir(rootfs)
	root := filepath.Dir(filepath.Dir(layerDir))
	if filepath.Base(filepath.Dir(layerDir)) != "overlay2" || !containsDockerRoot(dockerRoots, root) {
		return false
	}
	return dockerMountID(root, id) == filepath.Base(layerDir)
}

// containsDockerRoot reports whether root is one of roots, or a
// --userns-remap root (<r>/<uid>.<gid>) below one of them.
func containsDockerRoot(roots []string, root string) bool {
	for _, r := range roots {
		if root == r || (filepath.Dir(root) == r && filepath.Ext(root) != "") {
			return true
		}
	}
	return false
}

// storageRecord is what is read of a container's record in
// containers/storage's containers.json.
type storageRecord struct {
	ID    string `json:"id"`
	Layer string `json:"layer"`
}

// storageOwnsRootfs reports whether rootfs is <graphroot>/overlay/<L>/merged
// for a graph root of storageRoots whose records (containers.json and
// volatile-containers.json in overlay-containers, files of root's) give
// layer L to a container C, and the bundle lies in C's userdata directory
// (<graphroot or run root>/overlay-containers/C/userdata, Podman's,
// CRI-O's and Buildah's bundles: directories only root writes, so the
// config.json there is the engine's).
func storageOwnsRootfs(rootfs, bundleReal string, storageRoots []string) bool {
	if filepath.Base(rootfs) != "merged" || bundleReal == "" {
		return false
	}
	layerDir := filepath.Dir(rootfs)
	graph := filepath.Dir(filepath.Dir(layerDir))
	layer := filepath.Base(layerDir)
	if filepath.Base(filepath.Dir(layerDir)) != "overlay" || !isPlainName(layer) {
		return false
	}
	found := false
	for _, r := range storageRoots {
		found = found || r == graph
	}
	if !found {
		return false
	}
	runRoots := []string{graph, defaultStorageRunRoot}
	if data := readEngineConfig(filepath.Join(EngineConfigDir(), "containers", "storage.conf")); data != nil {
		if rr := tomlTableStrings(data, "storage", "runroot")["runroot"]; filepath.IsAbs(rr) && filepath.Clean(rr) != "/" {
			runRoots = append(runRoots, filepath.Clean(rr))
		}
	}
	var files []string
	for _, r := range runRoots {
		files = append(files, filepath.Join(r, "overlay-containers", "containers.json"), filepath.Join(r, "overlay-containers", "volatile-containers.json"))
	}
	for _, file := range files {
		for _, rec := range readStorageRecords(file) {
			if rec.Layer != layer || !isPlainName(rec.ID) {
				continue
			}
			for _, r := range runRoots {
				if hardenedspec.Within(bundleReal, filepath.Join(r, "overlay-containers", rec.ID, "userdata")) {
					return true
				}
			}
		}
	}
	return false
}

// readStorageRecords reads the container records of the containers/storage
// file at path, nil when it cannot or the file is not the engine's (a
// regular file of root's that only root writes, at most
// maxStorageRecordsSize).
func readStorageRecords(path string) []storageRecord {
	file, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer file.Close()
	var st unix.Stat_t
	if unix.Fstat(int(file.Fd()), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Uid != 0 || st.Mode&0o022 != 0 || st.Size > maxStorageRecordsSize {
		return nil
	}
	var records []storageRecord
	if json.NewDecoder(io.LimitReader(file, maxStorageRecordsSize)).Decode(&records) != nil {
		return nil
	}
	return records
}
