# Runs inside the image's root (chroot) at the end of image/build.
# Wires the installed wpbx into the system; everything it configures comes from
# rootfs/ (units, sshd drop-in, /etc/wpbx) laid over the root just before.
set -eu

for cmd in wpbxd wpbxctl wpbx-console; do
    if [ -x "/opt/wpbx/venv/bin/$cmd" ]; then
        ln -sf "/opt/wpbx/venv/bin/$cmd" "/usr/local/bin/$cmd"
    fi
done

echo wpbx > /etc/hostname
printf '127.0.0.1\tlocalhost\n127.0.1.1\twpbx\n' > /etc/hosts
printf 'LABEL=wpbx-root / ext4 rw,noatime 0 1\n' > /etc/fstab

# The serial port belongs to the wpbx console, not to a getty.
systemctl mask serial-getty@ttyS0.service
passwd -l root

# Enable every unit that rootfs/ brought and that says how to be installed.
for unit in /etc/systemd/system/*.service /etc/systemd/system/*.timer; do
    if [ -f "$unit" ] && [ ! -L "$unit" ] && grep -q '^\[Install\]' "$unit"; then
        systemctl enable "$(basename "$unit")"
    fi
done
systemctl enable ssh.service
mkdir -p /var/lib/wpbx /var/log/wpbx
