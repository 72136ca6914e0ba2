// Package spec loads, validates and atomically writes OCI bundles and their
// config.json. It is the single door through which a bundle enters the
// runtime: paths are made absolute, symlinked configs and rootfs are
// refused, and the caller's original bytes are kept so that nothing the
// runtime-spec types do not know is lost.
package spec
