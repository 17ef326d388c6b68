"""wpbx: the software of a hardware office PBX appliance (the ``wpbxd`` daemon)."""

from wpbxd.version import __version__

__all__ = ["__version__"]
