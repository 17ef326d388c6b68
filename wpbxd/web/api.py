"""The JSON API under ``/api/v1/``: the same service functions as the pages, for programs.

Authentication is a bearer token (``Authorization: Bearer wpbx_...``, see
``tokens.py``) acting as one admin, with the same access rules as the pages.
Errors are JSON ``{"error": message, "field": name|null}`` with 400 (invalid),
401 (no or bad token), 403 (not allowed), 404 (no such thing, or a feature that
is not running), 409 (conflict). The OpenAPI description is ``openapi.py``'s.
"""

import json
from collections.abc import Callable
from typing import Any

import bottle

from wpbxd.config import passwords, users
from wpbxd.config.users import User
from wpbxd.errors import Conflict, NotFound, UserError, ValidationError
from wpbxd.web import access, openapi, tokens, trunk_pages
from wpbxd.web.call_pages import cdr_feature, cdr_query, pbx_timezone
from wpbxd.web.features import FeatureMissing
from wpbxd.web.kit import WebEnv
from wpbxd.web.user_pages import registered_extensions

MAX_BODY = 4 * 1024 * 1024  # bytes
DEFAULT_LIMIT = 100  # CDR rows
MAX_LIMIT = 1000


class Unauthorized(UserError):
    pass


def _status(err: UserError) -> int:
    if isinstance(err, Unauthorized):
        return 401
    if isinstance(err, access.Forbidden):
        return 403
    if isinstance(err, NotFound):
        return 404
    if isinstance(err, Conflict):
        return 409
    if isinstance(err, FeatureMissing):
        return 404
    return 400


def _check_text(value: Any, where: str) -> None:
    """Refuse strings that cannot be stored (lone surrogates from JSON escapes)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("is not valid Unicode text", where) from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_text(k, where)
            _check_text(v, str(k))
    elif isinstance(value, list):
        for v in value:
            _check_text(v, where)


def _body() -> dict[str, Any]:
    length = bottle.request.content_length
    if length > MAX_BODY:
        raise ValidationError(f"the body is larger than {MAX_BODY} bytes")
    raw = bottle.request.body.read(MAX_BODY + 1)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object")
    _check_text(data, "body")
    return data


def _strings(data: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for key, value in data.items():
        if key not in allowed:
            raise ValidationError(f"unknown field {key!r}", key)
        if value is not None and not isinstance(value, str):
            raise ValidationError("must be a string or null", key)
        out[key] = value
    return out


def _param(name: str) -> str:
    value = bottle.request.query.getunicode(name, default="") or ""
    _check_text(value, name)
    return value


def make_api(env: WebEnv) -> bottle.Bottle:
    api = bottle.Bottle()
    store, bus = env.store, env.bus

    def error_json(err: bottle.HTTPError) -> str:
        bottle.response.content_type = "application/json"
        return json.dumps({"error": str(err.body or err.status_line), "field": None})

    for code in (400, 401, 403, 404, 405, 413, 500):
        api.error(code)(error_json)

    def actor() -> User:
        header = bottle.request.get_header("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("give an API token: Authorization: Bearer <token>")
        user_id = tokens.authenticate(store, token.strip(), env.clock())
        if user_id is None:
            raise Unauthorized("unknown API token")
        try:
            user = users.get_user(store, user_id)
        except NotFound:
            raise Unauthorized("unknown API token") from None
        if not access.may_sign_in(user):
            raise access.Forbidden("this token's user has no administration access")
        return user

    def endpoint(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bottle.response.content_type = "application/json"
            try:
                result = fn(actor(), *args, **kwargs)
            except UserError as err:
                bottle.response.status = _status(err)
                if isinstance(err, Unauthorized):
                    bottle.response.set_header("WWW-Authenticate", 'Bearer realm="wpbx"')
                field = err.field if isinstance(err, ValidationError) else None
                message = err.message if isinstance(err, ValidationError) else str(err)
                return json.dumps({"error": message, "field": field})
            if isinstance(result, bottle.HTTPResponse):
                return result
            return json.dumps(result, default=str)
        wrapper.__name__ = fn.__name__
        return wrapper

    @api.get("/openapi.json")
    def spec() -> str:
        bottle.response.content_type = "application/json"
        return json.dumps(openapi.document(env.commands(), cdr_feature(env)))

    @api.get("/me")
    @endpoint
    def who(me: User) -> dict[str, Any]:
        return me.public()

    @api.get("/users")
    @endpoint
    def user_list(me: User) -> list[dict[str, Any]]:
        return [u.public() for u in users.list_users(store, _param("search") or None)]

    @api.post("/users")
    @endpoint
    def user_add(me: User) -> dict[str, Any]:
        data = _strings(_body(), users.EDITABLE + ("sip_password", "web_password"))
        access.check_type(me, data.get("type"))
        sip, web = data.pop("sip_password", None), data.pop("web_password", None)
        user = users.add_user(store, bus, data, sip_password=sip, web_password=web)
        bottle.response.status = 201
        return user.public()

    def target(me: User, ref: str, manage: bool) -> User:
        _check_text(ref, "ref")
        user = users.get_user(store, ref)
        if manage:
            access.check_manage(me, user)
        return user

    @api.get("/users/<ref>")
    @endpoint
    def user_show(me: User, ref: str) -> dict[str, Any]:
        return target(me, ref, False).public()

    @api.route("/users/<ref>", method="PATCH")
    @endpoint
    def user_update(me: User, ref: str) -> dict[str, Any]:
        user = target(me, ref, True)
        data = _strings(_body(), users.EDITABLE)
        if not data:
            raise ValidationError("nothing to change")
        if "type" in data:
            access.check_type(me, data["type"], user)
        return users.update_user(store, bus, user.id, data).public()

    @api.delete("/users/<ref>")
    @endpoint
    def user_delete(me: User, ref: str) -> dict[str, Any]:
        user = target(me, ref, True)
        personal = _param("personal_data").lower()
        if personal not in ("", "true", "false"):
            raise ValidationError("must be true or false", "personal_data")
        return users.delete_user(store, bus, user.id, personal_data=personal == "true").public()

    @api.put("/users/<ref>/passwords")
    @endpoint
    def user_passwords(me: User, ref: str) -> dict[str, Any]:
        user = target(me, ref, True)
        data = _strings(_body(), ("sip_password", "web_password"))
        return users.set_passwords(store, bus, user.id, sip_password=data.get("sip_password"),
                                   web_password=data.get("web_password")).public()

    @api.get("/users.csv")
    @endpoint
    def user_export(me: User) -> bottle.HTTPResponse:
        access.check_super(me, "export users")
        return bottle.HTTPResponse(users.export_csv(store), status=200,
                                   headers={"Content-Type": "text/csv; charset=utf-8"})

    @api.post("/users/import")
    @endpoint
    def user_import(me: User) -> list[dict[str, Any]]:
        access.check_super(me, "import users")
        raw = bottle.request.body.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise ValidationError(f"the file is larger than {MAX_BODY} bytes")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError("the file is not UTF-8 text") from None
        added = users.import_csv(store, bus, text)
        bottle.response.status = 201
        return [u.public() for u in added]

    @api.get("/password/generate")
    @endpoint
    def generate(me: User) -> dict[str, str]:
        return {"password": passwords.generate()}

    @api.get("/registrations")
    @endpoint
    def registrations(me: User) -> Any:
        return env.call("registrations.list")

    @api.get("/registered")
    @endpoint
    def registered(me: User) -> list[str]:
        return sorted(registered_extensions(env))

    @api.get("/dialplan/procedures")
    @endpoint
    def procedures(me: User) -> Any:
        return env.call("dialplan.list")

    @api.get("/dialplan/procedures/<name>")
    @endpoint
    def procedure(me: User, name: str) -> Any:
        _check_text(name, "name")
        return env.call("dialplan.show", {"name": name})

    def _apps(value: Any) -> list[dict[str, Any]]:
        """Applications as ``[{"app": name, "params": {key: scalar}}]`` (types checked here)."""
        if not isinstance(value, list):
            raise ValidationError("must be a list of applications", "apps")
        out = []
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("app"), str):
                raise ValidationError('each application is {"app": name, "params": {...}}', "apps")
            params = item.get("params") or {}
            if not isinstance(params, dict) or not all(
                    isinstance(v, str | int | float | bool) for v in params.values()):
                raise ValidationError("params map names to strings or numbers", "apps")
            out.append({"app": item["app"], "params": params})
        return out

    def _text(data: dict[str, Any], key: str, required: bool = False) -> str | None:
        value = data.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            raise ValidationError("is required (a string)" if required else "must be a string", key)
        return value

    @api.post("/dialplan/procedures")
    @endpoint
    def procedure_add(me: User) -> Any:
        data = _body()
        _strings({k: v for k, v in data.items()}, ("name", "description"))
        result = env.call("dialplan.add", {"name": _text(data, "name", True),
                                           "description": _text(data, "description") or ""})
        bottle.response.status = 201
        return result

    @api.route("/dialplan/procedures/<name>", method="PATCH")
    @endpoint
    def procedure_change(me: User, name: str) -> Any:
        _check_text(name, "name")
        data = _strings(_body(), ("new_name", "description"))
        if not data:
            raise ValidationError("nothing to change")
        return env.call("dialplan.set", {"name": name, **data})

    @api.delete("/dialplan/procedures/<name>")
    @endpoint
    def procedure_delete(me: User, name: str) -> Any:
        _check_text(name, "name")
        env.call("dialplan.del", {"name": name})
        return {"deleted": name}

    @api.put("/dialplan/procedures/<name>/includes")
    @endpoint
    def procedure_includes(me: User, name: str) -> Any:
        _check_text(name, "name")
        included = _body().get("includes")
        if not isinstance(included, list) or not all(isinstance(i, str) for i in included):
            raise ValidationError("must be a list of procedure names", "includes")
        return env.call("dialplan.includes", {"name": name, "includes": included})

    @api.post("/dialplan/procedures/<name>/entries")
    @endpoint
    def entry_add(me: User, name: str) -> Any:
        _check_text(name, "name")
        data = _body()
        unknown = set(data) - {"pattern", "apps", "position"}
        if unknown:
            raise ValidationError(f"unknown field {sorted(unknown)[0]!r}")
        position = data.get("position")
        if position is not None and (not isinstance(position, int) or isinstance(position, bool) or position < 0):
            raise ValidationError("must be a whole number from 0", "position")
        result = env.call("dialplan.entry.add", {"procedure": name, "pattern": _text(data, "pattern", True),
                                                 "apps": _apps(data.get("apps") or []), "position": position})
        bottle.response.status = 201
        return result

    @api.delete("/dialplan/procedures/<name>/entries/<pattern>")
    @endpoint
    def entry_delete(me: User, name: str, pattern: str) -> Any:
        _check_text(name, "name")
        _check_text(pattern, "pattern")
        return env.call("dialplan.entry.del", {"procedure": name, "pattern": pattern})

    @api.get("/dialplan/trace")
    @endpoint
    def trace(me: User) -> Any:
        args = {k: _param(k) for k in ("from", "to", "procedure", "at")}
        return env.call("dialplan.trace", {k: v for k, v in args.items() if v})

    @api.get("/calls")
    @endpoint
    def calls(me: User) -> Any:
        return env.call("calls.list")

    @api.post("/calls")
    @endpoint
    def originate(me: User) -> Any:
        data = _strings(_body(), ("extension", "number", "procedure"))
        call = env.call("calls.originate", data)
        bottle.response.status = 201
        return call

    @api.get("/cdr")
    @endpoint
    def cdr(me: User) -> list[dict[str, Any]]:
        if not cdr_feature(env):
            raise FeatureMissing("call history is not available")
        q = {k: _param(k).strip() for k in ("from", "to", "user", "disposition")}
        where, params = cdr_query(store, pbx_timezone(store), q)
        limits = {}
        for name, default, top in (("limit", DEFAULT_LIMIT, MAX_LIMIT), ("offset", 0, 10**12)):
            text = _param(name) or str(default)
            if not text.isdigit() or int(text) > top:
                raise ValidationError(f"must be a whole number from 0 to {top}", name)
            limits[name] = int(text)
        rows = store.all(f"SELECT * FROM cdr{where} ORDER BY start_time DESC LIMIT ? OFFSET ?",
                         (*params, limits["limit"], limits["offset"]))
        return [dict(r) for r in rows]

    # -- trunks ------------------------------------------------------------------------
    def _trunk_body(data: dict[str, Any]) -> dict[str, Any]:
        """Trunk fields with their JSON types checked (the values are the service's to check)."""
        out: dict[str, Any] = {}
        for key, value in data.items():
            kind = openapi.TRUNK_TYPES.get(key)
            if kind is None:
                raise ValidationError(f"unknown field {key!r}", key)
            if value is None:
                continue
            if kind == "integer" and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValidationError("must be a whole number", key)
            if kind == "boolean" and not isinstance(value, bool):
                raise ValidationError("must be true or false", key)
            if kind == "string" and not isinstance(value, str):
                raise ValidationError("must be a string", key)
            out[key] = value
        return out

    def _with_status(trunk: dict[str, Any], live: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
        row = None if live is None else live.get(trunk["name"], {})
        css, words = trunk_pages.status_text(row)
        return {**trunk, "status": {"state": (row or {}).get("status", "not running"), "text": words,
                                    "registered_from": (row or {}).get("registered_from", ""),
                                    "calls": (row or {}).get("calls", 0)}}

    def _live() -> dict[str, dict[str, Any]] | None:
        if trunk_pages.STATUS_COMMAND not in env.commands():
            return None
        return {row["name"]: row for row in env.call(trunk_pages.STATUS_COMMAND) or []}

    @api.get("/trunks")
    @endpoint
    def trunk_list(me: User) -> list[dict[str, Any]]:
        live = _live()
        return [_with_status(t, live) for t in env.call("trunk.list") or []]

    @api.post("/trunks")
    @endpoint
    def trunk_add(me: User) -> dict[str, Any]:
        data = _trunk_body(_body())
        if "name" not in data:
            raise ValidationError("is required", "name")
        result = env.call("trunk.add", data)
        bottle.response.status = 201
        return result

    @api.get("/trunks/<name>")
    @endpoint
    def trunk_show(me: User, name: str) -> dict[str, Any]:
        _check_text(name, "name")
        return _with_status(env.call("trunk.show", {"name": name}), _live())

    @api.route("/trunks/<name>", method="PATCH")
    @endpoint
    def trunk_change(me: User, name: str) -> dict[str, Any]:
        _check_text(name, "name")
        data = _trunk_body(_body())
        if not data:
            raise ValidationError("nothing to change")
        new_name = data.pop("name", None)
        return env.call("trunk.set", {**data, "name": name, "new_name": new_name})

    @api.delete("/trunks/<name>")
    @endpoint
    def trunk_delete(me: User, name: str) -> dict[str, Any]:
        _check_text(name, "name")
        return env.call("trunk.del", {"name": name})

    return api
