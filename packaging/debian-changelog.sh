#!/bin/sh
# Writes the Debian changelog entry of the package being built, to stdout.
# usage: debian-changelog.sh DEB_VERSION UPSTREAM_VERSION MAINTAINER EPOCH
# EPOCH (seconds) dates the entry: the last commit's time, so that two
# builds of one commit give the same package.
set -eu
deb_version=$1 upstream=$2 maintainer=$3 epoch=$4
cat <<ENTRY
hardened (${deb_version}) unstable; urgency=medium

  * Upstream release ${upstream}; see /usr/share/doc/hardened/changelog.gz.

 -- ${maintainer}  $(LC_ALL=C date -u -R -d "@${epoch}")
ENTRY
