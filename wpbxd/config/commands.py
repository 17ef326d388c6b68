"""Control-socket commands over the configuration store: users and settings.

Thin adapters from ``{"args": ...}`` to the service functions in ``users.py`` and
``settings.py``; no rule lives here.
"""

from typing import Any

from wpbxd.bus import EventBus
from wpbxd.config import passwords, settings, users
from wpbxd.config.store import Store
from wpbxd.control import ControlServer
from wpbxd.errors import ValidationError


def _user_values(args: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k in users.EDITABLE and v is not None}


def register(control: ControlServer, store: Store, bus: EventBus) -> None:
    def user_add(args: dict[str, Any]) -> dict[str, Any]:
        user = users.add_user(
            store, bus, _user_values(args),
            sip_password=args.get("sip_password"), web_password=args.get("web_password"),
        )
        return user.public()

    def user_list(args: dict[str, Any]) -> list[dict[str, Any]]:
        return [u.public() for u in users.list_users(store, args.get("search"))]

    def user_show(args: dict[str, Any]) -> dict[str, Any]:
        return users.get_user(store, _ref(args)).public()

    def user_set(args: dict[str, Any]) -> dict[str, Any]:
        values = _user_values({k: v for k, v in args.items() if k != "ref"})
        if not values:
            raise ValidationError("nothing to change")
        return users.update_user(store, bus, _ref(args), values).public()

    def user_del(args: dict[str, Any]) -> dict[str, Any]:
        return users.delete_user(store, bus, _ref(args), bool(args.get("personal_data"))).public()

    def user_passwd(args: dict[str, Any]) -> dict[str, Any]:
        return users.set_passwords(
            store, bus, _ref(args),
            sip_password=args.get("sip_password"), web_password=args.get("web_password"),
        ).public()

    def user_import(args: dict[str, Any]) -> list[dict[str, Any]]:
        text = args.get("csv")
        if not isinstance(text, str):
            raise ValidationError("no CSV text given")
        return [u.public() for u in users.import_csv(store, bus, text)]

    def user_export(args: dict[str, Any]) -> str:
        return users.export_csv(store)

    def settings_get(args: dict[str, Any]) -> Any:
        if args.get("key"):
            return {args["key"]: settings.get(store, args["key"])}
        return settings.get_all(store)

    def settings_set(args: dict[str, Any]) -> Any:
        return {args["key"]: settings.set_value(store, bus, args["key"], args.get("value"))}

    control.register("user.add", user_add)
    control.register("user.list", user_list)
    control.register("user.show", user_show)
    control.register("user.set", user_set)
    control.register("user.del", user_del)
    control.register("user.passwd", user_passwd)
    control.register("user.import", user_import)
    control.register("user.export", user_export)
    control.register("password.generate", lambda args: passwords.generate())
    control.register("settings.get", settings_get)
    control.register("settings.set", settings_set)


def _ref(args: dict[str, Any]) -> str:
    ref = args.get("ref")
    if not ref:
        raise ValidationError("which user? give an extension, login or id")
    return str(ref)
