# Runs inside the image's root (chroot) at the end of image/build.
# Wires the installed wpbx into the system; everything it configures comes from
# rootfs/ (units, sshd drop-in, /etc/wpbx) laid over the root just before.
set -eu

for cmd in wpbxd wpbxctl wpbx-console; do
    if [ -x "/opt/wpbx/venv/bin/$cmd" ]; then
        ln -sf "/opt/wpbx/venv/bin/$cmd" "/usr/bin/$cmd"
    fi
done

echo wpbx > /etc/hostname
printf '127.0.0.1\tlocalhost\n127.0.1.1\twpbx\n' > /etc/hosts
# The root is a slot (wpbx-a or wpbx-b, mounted rw by the kernel); the boot partition
# (extlinux, a kernel per slot, the slot state) and the data partition are shared by
# both slots and mounted by boot-wpbx.mount and var-lib-wpbx.mount from rootfs/ (only
# on a slot boot: the direct-boot image has neither).
mkdir -p /boot/wpbx
echo '# wpbx: / is the slot the kernel was given; /boot/wpbx and /var/lib/wpbx are mount units' > /etc/fstab

# The serial port belongs to the wpbx console, not to a getty.
systemctl mask serial-getty@ttyS0.service
passwd -l root

# Enable every unit that rootfs/ brought and that says how to be installed.
for unit in /etc/systemd/system/*.service /etc/systemd/system/*.timer /etc/systemd/system/*.mount; do
    if [ -f "$unit" ] && [ ! -L "$unit" ] && grep -q '^\[Install\]' "$unit"; then
        systemctl enable "$(basename "$unit")"
    fi
done
systemctl enable ssh.service
mkdir -p /var/lib/wpbx /var/log/wpbx

# The console account: SSH as admin lands in wpbx-console (sshd drop-in from rootfs/),
# authenticated by wpbxd with the super admin's web password (wpbx-pam-auth).
groupadd --system wpbx 2>/dev/null || true
if ! getent passwd admin >/dev/null; then
    useradd --system --no-create-home --home-dir /var/lib/wpbx --shell /bin/sh --gid wpbx admin
fi
# the console menu's system-log entry reads the journal (read only); restart, reboot
# and shut down are asked of wpbxd over the control socket (group wpbx), not of systemd
if getent group systemd-journal >/dev/null; then
    usermod -a -G systemd-journal admin
fi
ln -sf /opt/wpbx/venv/bin/wpbx-pam-auth /usr/bin/wpbx-pam-auth
pam=/etc/pam.d/sshd
if ! grep -q wpbx-pam-auth "$pam"; then
    {
        echo "# wpbx: the admin account authenticates against wpbxd (super admin web password)"
        echo "auth [success=ignore default=1] pam_succeed_if.so quiet user = admin"
        echo "auth [success=done default=die] pam_exec.so quiet expose_authtok /usr/bin/wpbx-pam-auth"
        cat "$pam"
    } > "$pam.new" && mv "$pam.new" "$pam"
fi
# wpbxd writes the resolver configuration it learns on the WAN into its data dir.
ln -sf /var/lib/wpbx/resolv.conf /etc/resolv.conf
