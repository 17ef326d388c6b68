"""Find applications by name: every ``Application`` subclass in this package.

Adding an application is adding a module; nothing else changes.
"""

import importlib
import pkgutil
from functools import cache

from wpbxd.telephony.dialplan import apps
from wpbxd.telephony.dialplan.apps.base import Application


@cache
def applications() -> dict[str, type[Application]]:
    found: dict[str, type[Application]] = {}
    for info in pkgutil.iter_modules(apps.__path__):
        if info.name in ("base", "registry"):
            continue
        module = importlib.import_module(f"{apps.__name__}.{info.name}")
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, Application)
                    and value is not Application and getattr(value, "name", None)):
                found[value.name] = value
    return found
