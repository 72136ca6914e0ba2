package testutil

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"runtime"
)

// WriteBusyboxOCIArchive writes the busybox rootfs as a one-layer OCI image
// layout in a tar stream (what `ctr images import` reads), named name
// (e.g. "docker.io/hardened-test/busybox:latest") with CMD sh and a PATH.
func WriteBusyboxOCIArchive(w io.Writer, name string) error {
	var layerTar bytes.Buffer
	if err := WriteBusyboxTar(&layerTar); err != nil {
		return err
	}
	return writeOCIArchive(w, name, layerTar.Bytes(),
		map[string]any{"Env": []string{imagePath}, "Cmd": []string{"sh"}},
		"hardened tests: busybox-static rootfs")
}

// WritePauseOCIArchive writes a sandbox ("pause") image for the CRI
// plugin: one layer holding the static program pause (the bytes of
// tests/cri/pause built with CGO_ENABLED=0) as /pause, its entrypoint,
// run as 65535:65535 as Kubernetes' own pause image is.
func WritePauseOCIArchive(w io.Writer, name string, pause []byte) error {
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	if err := tw.WriteHeader(&tar.Header{Name: "pause", Mode: 0o755, Size: int64(len(pause)), ModTime: tarEpoch, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(pause); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return writeOCIArchive(w, name, layerTar.Bytes(),
		map[string]any{"Entrypoint": []string{"/pause"}, "User": "65535:65535"},
		"hardened tests: tests/cri/pause")
}

// writeOCIArchive writes a one-layer OCI image layout (layerTar, an
// uncompressed tar, gzipped here) as a tar stream, named name, with the
// image config's "config" object imageConfig.
func writeOCIArchive(w io.Writer, name string, layerTar []byte, imageConfig map[string]any, createdBy string) error {
	var layer bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&layer, gzip.BestSpeed)
	if _, err := gz.Write(layerTar); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      tarEpoch.Format("2006-01-02T15:04:05Z"),
		"config":       imageConfig,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{digest(layerTar)}},
		"history":      []map[string]any{{"created_by": createdBy}},
	})
	if err != nil {
		return err
	}
	desc := func(mediaType string, blob []byte) map[string]any {
		return map[string]any{"mediaType": mediaType, "digest": digest(blob), "size": len(blob)}
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        desc("application/vnd.oci.image.config.v1+json", config),
		"layers":        []any{desc("application/vnd.oci.image.layer.v1.tar+gzip", layer.Bytes())},
	})
	if err != nil {
		return err
	}
	md := desc("application/vnd.oci.image.manifest.v1+json", manifest)
	md["annotations"] = map[string]string{
		"io.containerd.image.name":          name,
		"org.opencontainers.image.ref.name": refName(name),
	}
	md["platform"] = map[string]string{"architecture": runtime.GOARCH, "os": "linux"}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests":     []any{md},
	})
	if err != nil {
		return err
	}

	tw := tar.NewWriter(w)
	file := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: tarEpoch, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Mode: 0o755, ModTime: tarEpoch, Typeflag: tar.TypeDir}); err != nil {
			return err
		}
	}
	for _, blob := range [][]byte{layer.Bytes(), config, manifest} {
		if err := file("blobs/sha256/"+digest(blob)[len("sha256:"):], blob); err != nil {
			return err
		}
	}
	if err := file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := file("index.json", index); err != nil {
		return err
	}
	return tw.Close()
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// refName is the tag of an image name ("latest" if it has none).
func refName(name string) string {
	for i := len(name) - 1; i >= 0 && name[i] != '/'; i-- {
		if name[i] == ':' {
			return name[i+1:]
		}
	}
	return "latest"
}
