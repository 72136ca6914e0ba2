// Package userns carries out the host side of a container's user
// namespace once every refusal ran: it allocates or reserves the
// container's host ID range (idmap's registry), gives the engines'
// per-container files to the mapped root, and stages the rootfs in a
// directory only root can change (an idmapped clone of the checked
// directory, a rebuilt overlay with the container's layer shifted into
// the range, or a plain clone). It also pins bind sources beside it and
// prepares a pod's network namespace owned by the host. Release undoes
// all of it from the staging directory alone, so delete works after a
// kill -9 of anything.
package userns
