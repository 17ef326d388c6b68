"""Consoles: the ``wpbxctl`` control client (and later the serial and SSH menus)."""
