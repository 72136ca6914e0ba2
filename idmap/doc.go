// Package idmap gives every container its own range of host user and group
// IDs and makes idmapped mounts with it.
//
// Allocator hands out ranges of host IDs (the same numbers for uids and
// gids) from a pool, keyed by container ID, disjoint between live
// containers and never containing host ID 0. Its state is one JSON file
// under the runtime's --root, replaced atomically while a separate lock
// file is held with flock(2), so concurrent runtime processes agree.
// Entries whose container no longer exists (its creator is gone and its
// state directory with it) are reclaimed on the next allocation.
//
// The mount primitives (UsernsFile, CloneIDMapped, Unmount) make a detached
// clone of a directory, attach a user namespace's mapping to it
// (MOUNT_ATTR_IDMAP) and mount it at a staging path, so that a container's
// root sees the image's files owned as the image says without a chown of
// any file.
package idmap
