#!/bin/sh
# Remove what an office PBX box never uses from the image's root ($1), to keep the
# firmware lean (target: <= 400 MB uncompressed): kernel drivers for graphics,
# sound, video capture, Wi-Fi, Bluetooth, InfiniBand and exotic filesystems; pip and
# setuptools from wpbx's venv (nothing is installed at run time); caches. The kernel
# modules that stay are xz-compressed.
# Called by image/build as a customize hook, outside the chroot.
set -eu
root=$1
for kdir in "$root"/usr/lib/modules/*/kernel; do
    [ -d "$kdir" ] || continue
    for gone in sound drivers/gpu drivers/media drivers/infiniband drivers/iio \
        drivers/staging drivers/net/wireless drivers/bluetooth drivers/isdn \
        drivers/video drivers/input/joystick drivers/input/tablet drivers/input/touchscreen \
        drivers/net/can drivers/atm drivers/nfc drivers/thunderbolt drivers/fpga \
        drivers/comedi drivers/mtd drivers/net/ethernet/mellanox drivers/net/ethernet/chelsio \
        drivers/net/ethernet/qlogic drivers/net/ethernet/sfc drivers/net/ethernet/cavium \
        drivers/scsi/qla2xxx drivers/scsi/lpfc drivers/scsi/bfa drivers/scsi/be2iscsi \
        drivers/target drivers/md/bcache \
        net/wireless net/mac80211 net/bluetooth net/6lowpan net/ieee802154 net/mac802154 \
        net/nfc net/atm net/can net/rxrpc net/ceph \
        fs/btrfs fs/xfs fs/ocfs2 fs/gfs2 fs/nilfs2 fs/f2fs fs/jfs fs/reiserfs fs/ubifs \
        fs/hfs fs/hfsplus fs/ntfs3 fs/ceph fs/afs fs/orangefs fs/erofs fs/udf fs/dlm \
        fs/coda fs/ufs fs/minix fs/omfs fs/qnx4 fs/qnx6 fs/befs fs/efs fs/freevxfs; do
        rm -rf "${kdir:?}/$gone"
    done
done
# what stays is xz-compressed (kmod in bookworm reads .ko.xz; about a third the size)
for kdir in "$root"/usr/lib/modules/*/kernel; do
    [ -d "$kdir" ] || continue
    find "$kdir" -name '*.ko' -print0 | xargs -0 -r -P 2 -n 64 xz -q --check=crc32
done
for version in $(ls "$root/usr/lib/modules"); do
    chroot "$root" depmod -a "$version"
done
chroot "$root" update-initramfs -u -k all >/dev/null 2>&1
rm -f "$root"/boot/initrd.img-*.old-dkms "$root"/boot/*.bak
site=$(echo "$root"/opt/wpbx/venv/lib/python3*/site-packages)
rm -rf "$site"/pip "$site"/pip-* "$site"/setuptools "$site"/setuptools-* \
       "$site"/pkg_resources "$site"/_distutils_hack "$site"/distutils-precedence.pth
rm -f "$root"/opt/wpbx/venv/bin/pip*
find "$root/opt/wpbx" "$root/usr/lib/python3"* -name __pycache__ -prune -exec rm -rf {} +
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/cache/debconf/*-old \
       "$root"/usr/share/doc/* "$root"/usr/share/info/* "$root"/usr/share/man/* \
       "$root"/var/log/*.log
