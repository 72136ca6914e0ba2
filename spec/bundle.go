package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ConfigName is the name of a bundle's configuration file.
const ConfigName = "config.json"

// OriginalConfigName is where the caller's own configuration is kept when
// the runtime rewrites config.json.
const OriginalConfigName = "config.json.orig"

// Bundle is an OCI bundle loaded from disk.
type Bundle struct {
	// Dir is the bundle's absolute, clean path.
	Dir string
	// Raw holds config.json exactly as the caller wrote it.
	Raw []byte
	// Spec is config.json decoded. It may be rewritten by hardening.
	Spec *specs.Spec
	// Warnings lists what was tolerated while decoding (unknown fields).
	Warnings []string
	// dir is the bundle directory opened once at load (O_PATH): config.json
	// is read, and rewritten, in that directory whatever becomes of the
	// path Dir afterwards (a directory on it swapped for a symlink by
	// whoever can write there). Nil for a Bundle not loaded from disk.
	dir *os.File
}

// inDir returns the path of name in the bundle directory as it was
// opened at load (through the descriptor's /proc/self/fd link), or below
// Dir for a Bundle not loaded from disk.
func (b *Bundle) inDir(name string) string {
	if b.dir == nil {
		return filepath.Join(b.Dir, name)
	}
	return "/proc/self/fd/" + strconv.Itoa(int(b.dir.Fd())) + "/" + name
}

// OpenedDir returns a path that names the bundle directory opened at load
// (see inDir), for the runtime's own writes there.
func (b *Bundle) OpenedDir() string {
	if b.dir == nil {
		return b.Dir
	}
	return "/proc/self/fd/" + strconv.Itoa(int(b.dir.Fd()))
}

// ConfigPath returns the path of the bundle's config.json.
func (b *Bundle) ConfigPath() string { return filepath.Join(b.Dir, ConfigName) }

// RootfsPath returns the absolute path of the container's root filesystem.
func (b *Bundle) RootfsPath() string {
	if filepath.IsAbs(b.Spec.Root.Path) {
		return filepath.Clean(b.Spec.Root.Path)
	}
	return filepath.Join(b.Dir, b.Spec.Root.Path)
}

// LoadBundle is LoadBundleLimit with the default size cap,
// DefaultMaxConfigSize.
func LoadBundle(dir string) (*Bundle, error) {
	return LoadBundleLimit(dir, DefaultMaxConfigSize)
}

// LoadBundleLimit reads and validates the bundle in dir. dir is made
// absolute against the current directory. A config.json or rootfs that is
// a symlink is refused: the bundle's owner could point it anywhere on the
// host between our checks and libcontainer's use of it. config.json must
// be a regular file of at most maxConfigSize bytes (the policy's
// "maxConfigSize"; not positive: DefaultMaxConfigSize), checked before it
// is opened for reading (see ReadRegularFile).
func LoadBundleLimit(dir string, maxConfigSize int64) (_ *Bundle, retErr error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidBundle, dir, err)
	}
	b := &Bundle{Dir: abs}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, b.errorf("%w", err)
	}
	if !fi.IsDir() {
		return nil, b.errorf("not a directory")
	}
	fd, err := unix.Open(abs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, b.errorf("%w", &os.PathError{Op: "open", Path: abs, Err: err})
	}
	b.dir = os.NewFile(uintptr(fd), abs)
	defer func() {
		if retErr != nil {
			b.dir.Close()
		}
	}()
	raw, err := readRegularFileNamed(b.inDir(ConfigName), b.ConfigPath(), maxConfigSize)
	if err != nil {
		return nil, b.errorf("%w", err)
	}
	b.Raw = raw
	s, warnings, err := DecodeConfig(raw)
	if err != nil {
		return nil, b.errorf("%s: %w", ConfigName, err)
	}
	b.Spec, b.Warnings = s, warnings
	if err := Validate(s); err != nil {
		return nil, b.errorf("%s: %w", ConfigName, err)
	}
	if err := checkRootfs(b.RootfsPath()); err != nil {
		return nil, b.errorf("%w", err)
	}
	return b, nil
}

func (b *Bundle) errorf(format string, args ...any) error {
	return fmt.Errorf("%w %s: "+format, append([]any{ErrInvalidBundle, b.Dir}, args...)...)
}

func checkRootfs(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("rootfs %s is a symlink, which is not allowed", path)
	}
	if !fi.IsDir() {
		return fmt.Errorf("rootfs %s is not a directory", path)
	}
	return nil
}

// DecodeConfig decodes config.json. Fields unknown to the runtime-spec
// types do not fail the decode (newer clients add fields before runtimes
// know them) but are returned as warnings.
func DecodeConfig(raw []byte) (*specs.Spec, []string, error) {
	var s specs.Spec
	strict := json.NewDecoder(bytes.NewReader(raw))
	strict.DisallowUnknownFields()
	strictErr := strict.Decode(&s)
	if strictErr == nil {
		if strict.More() {
			return nil, nil, errors.New("trailing data after the JSON object")
		}
		return &s, nil, nil
	}
	s = specs.Spec{}
	lenient := json.NewDecoder(bytes.NewReader(raw))
	if err := lenient.Decode(&s); err != nil {
		return nil, nil, fmt.Errorf("malformed JSON: %w", err)
	}
	if lenient.More() {
		return nil, nil, errors.New("trailing data after the JSON object")
	}
	return &s, []string{strictErr.Error()}, nil
}

// Validate checks what every container needs before anything else looks
// at the spec, naming the offending field.
func Validate(s *specs.Spec) error {
	switch {
	case s.Root == nil || s.Root.Path == "":
		return errors.New("root.path must be set")
	case s.Process == nil:
		return errors.New("process must be set")
	}
	return ValidateProcess(s.Process)
}

// ValidateProcess checks the fields of a process that libcontainer needs.
func ValidateProcess(p *specs.Process) error {
	switch {
	case p == nil:
		return errors.New("process must be set")
	case len(p.Args) == 0 && p.CommandLine == "":
		return errors.New("process.args must not be empty")
	case p.Cwd == "":
		return errors.New("process.cwd must be set")
	case !filepath.IsAbs(p.Cwd):
		return fmt.Errorf("process.cwd %q must be an absolute path", p.Cwd)
	}
	return nil
}

// SaveRewritten writes a rewritten spec to the bundle's config.json and
// keeps the caller's file as config.json.orig. Call it only when the spec
// changed. The caller's file is kept by hard-linking it, not by copying:
// its bytes are already on disk, so only the new config.json needs an
// fsync. Both names are in place, complete, before the directory's fsync.
func (b *Bundle) SaveRewritten(s *specs.Spec) error {
	out, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("bundle %s: encode %s: %w", b.Dir, ConfigName, err)
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(b.inDir(ConfigName)); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := b.keepOriginal(mode); err != nil {
		return fmt.Errorf("bundle %s: keep original config: %w", b.Dir, err)
	}
	if err := WriteFileAtomic(b.inDir(ConfigName), out, mode); err != nil {
		return fmt.Errorf("bundle %s: %w", b.Dir, err)
	}
	return nil
}

// keepOriginal makes config.json.orig name the caller's config.json. The
// link goes to a temporary name first and is renamed over any older
// config.json.orig, so a reader never finds that name missing or partial.
// Where hard links are not possible the bytes read at load are written.
func (b *Bundle) keepOriginal(mode os.FileMode) error {
	orig := b.inDir(OriginalConfigName)
	tmp := orig + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Link(b.inDir(ConfigName), tmp); err != nil {
		return WriteFileAtomic(orig, b.Raw, mode)
	}
	err := os.Rename(tmp, orig)
	// When config.json.orig already is a link of config.json (a rewrite
	// killed before it replaced config.json), rename does nothing and
	// leaves tmp.
	if rerr := os.Remove(tmp); err == nil && rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = rerr
	}
	return err
}
