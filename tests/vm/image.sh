#!/usr/bin/env bash
# Builds the test guest of `make test-vm` into OUT (a directory that must
# not exist): a Debian 12 root filesystem from packages only (debootstrap
# bookworm, Debian's kernel), packed into a raw ext4 image with
# `mkfs.ext4 -d` (no loop device, no mount), plus the kernel and initramfs
# taken from the guest's own /boot.
#
# This file is the image's recipe: tests/vm/run.sh caches the result under
# a hash of this file, so any edit here rebuilds the image and nothing
# else does. What changes per run (the job, the binaries, the checkout)
# comes in over 9p at boot and is not part of the image.
#
# Usage: image.sh OUT   (as root; HARDENED_DEBIAN_MIRROR overrides the mirror)
set -euo pipefail
out=${1:?usage: image.sh OUT}
mirror=${HARDENED_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The target platform: systemd as PID 1, cgroup v2, AppArmor, Debian's
# container engines. The rest is what the test suites call (ip, ps, ...).
packages=(
	systemd systemd-sysv dbus apparmor
	docker.io containerd runc libseccomp2 iptables containernetworking-plugins
	busybox-static linux-image-amd64 e2fsprogs kmod
	procps psmisc iproute2 util-linux bsdutils ca-certificates
)
size=12G # sparse; the suites' images and containers live in here

mkdir "$out"
root="$out/root"
# debootstrap mounts these in the target while packages configure; a
# build cut short can leave them, and neither mkfs nor rm may walk them.
unmount_target() { for m in proc sys dev/pts dev; do umount -l "$root/$m" 2>/dev/null || true; done; }
trap unmount_target EXIT
debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
	bookworm "$root" "$mirror"

echo hardened-vm > "$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 hardened-vm\n' > "$root/etc/hosts"
echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' > "$root/etc/fstab"
# No root password prompt needed: the guest runs one job and powers off;
# the serial console gets a root shell only for debugging by hand.
chroot "$root" passwd -d root
# The engines start only when a test asks (the suites run private
# daemons); with TCG every idle daemon costs boot time.
chroot "$root" systemctl disable docker.service docker.socket containerd.service
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer

# The job: mount the run directory the host shares as 9p tag "run", run
# its job.sh as root (it writes its results there), then power off
# whatever happened. FailureAction covers a job that cannot even start.
cat > "$root/usr/local/sbin/hardened-vm-job" <<'JOB'
#!/bin/sh
mkdir -p /mnt/run
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=1048576 run /mnt/run; then
	/bin/bash /mnt/run/job.sh > /mnt/run/job.log 2>&1
	echo "job.sh exited $?" >> /mnt/run/job.log
	journalctl -b --no-pager > /mnt/run/journal.txt 2>&1
	sync
else
	echo "hardened-vm-job: cannot mount the 9p share 'run'" > /dev/console
fi
systemctl poweroff --no-block
JOB
chmod 0755 "$root/usr/local/sbin/hardened-vm-job"
cat > "$root/etc/systemd/system/hardened-vm-job.service" <<'UNIT'
[Unit]
Description=hardened test job from the 9p share "run"
After=local-fs.target network.target systemd-user-sessions.service
FailureAction=poweroff-force

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/hardened-vm-job
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
UNIT
chroot "$root" systemctl enable hardened-vm-job.service

cp -L "$root/vmlinuz" "$out/vmlinuz"
cp -L "$root/initrd.img" "$out/initrd.img"
rm -f "$root"/var/cache/apt/archives/*.deb
unmount_target
truncate -s "$size" "$out/rootfs.raw"
mkfs.ext4 -q -F -L hardened-vm -d "$root" "$out/rootfs.raw"
rm -rf --one-file-system "$root"
