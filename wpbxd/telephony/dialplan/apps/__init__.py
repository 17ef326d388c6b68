"""Dialplan applications, one module each; ``registry`` finds them by name.

Contract (see ``base.py``): an application is built from its stored parameters
(validated at save time) and ``run`` against a ``CallContext`` and the engine's
``RunEnv``; it returns ``CONTINUE``, ``STOP`` or a ``Jump`` to another procedure.
The module's docstring is the application's admin-facing description.
"""
