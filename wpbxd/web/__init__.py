"""The admin web UI (Bottle, server-rendered) and the JSON API under ``/api/v1/``.

Responsible for HTTP only: it turns requests into calls to the service functions
(``wpbxd.config.users``, ``passwords``, ``settings``, the store, control commands)
and their results or errors into pages. No configuration rule lives here.
"""
