// Package idmap gives every container its own range of host user and group
// IDs and makes idmapped mounts with it.
//
// Allocator hands out ranges of host IDs (the same numbers for uids and
// gids) from a pool, disjoint between live containers and never
// containing host ID 0. The runtime uses one registry for the whole host
// (NewHostAllocator: RegistryDir, whatever the --root), keyed by the
// container's state directory <root>/<id> (Key), so that engines passing
// different roots never get the same range. Its state is one small JSON
// file per entry (EntriesName), created by rename and unlinked at release
// while a lock file is held with flock(2), so concurrent runtime processes
// agree and a release needs no free space. The lock is held briefly: an
// allocation reads and judges every entry file before it takes the lock,
// and under it only checks that none changed (see Allocator.update); a
// release unlinks its own file. Mappings the runtime accepts but
// did not choose (a joined user namespace) are recorded with Reserve.
// Entries whose container no longer exists (its creator is gone and its
// state directory with it) are reclaimed on the next allocation.
//
// The mount primitives (UsernsFile, CloneIDMapped, Unmount) make a detached
// clone of a directory, attach a user namespace's mapping to it
// (MOUNT_ATTR_IDMAP) and mount it at a staging path, so that a container's
// root sees the image's files owned as the image says without a chown of
// any file.
package idmap
