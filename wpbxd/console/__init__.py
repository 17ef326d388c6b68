"""Consoles: ``wpbxctl`` (control client), the serial boot menu and login, the SSH/serial console menu."""
