"""The OpenAPI 3.0 description of ``/api/v1/``, served at ``/api/v1/openapi.json``.

Only the operations whose feature is running are described. Field names and
user types come from ``wpbxd.config.users`` so the description cannot drift.
"""

from typing import Any

from wpbxd import __version__
from wpbxd.config import users

_S = {"type": "string"}
_NS = {"type": "string", "nullable": True}
ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "invalid input", 401: "no or unknown token", 403: "not allowed",
            404: "not found", 409: "conflict with another user"}
    return {str(c): _json(ERROR, text[c]) for c in codes}


def _user_schema() -> dict[str, Any]:
    props: dict[str, Any] = {k: dict(_NS) for k in users.EDITABLE}
    props["type"] = {"type": "string", "enum": list(users.USER_TYPES)}
    props["name"] = dict(_S)
    props.update(id={"type": "integer"}, must_change_password={"type": "boolean"},
                 created_at=dict(_S))
    return {"type": "object", "properties": props, "required": ["id", "type", "name"]}


def _user_input(required: list[str], with_passwords: bool) -> dict[str, Any]:
    props: dict[str, Any] = {k: dict(_NS) for k in users.EDITABLE}
    props["type"] = {"type": "string", "enum": list(users.USER_TYPES)}
    if with_passwords:
        props.update(sip_password=dict(_NS), web_password=dict(_NS))
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


REF = {"name": "ref", "in": "path", "required": True, "schema": _S, "example": "admin",
       "description": "user id, extension or login"}


def _cdr_params() -> list[dict[str, Any]]:
    return [
        {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "user", "in": "query", "schema": _S, "description": "caller or callee number"},
        {"name": "disposition", "in": "query",
         "schema": {"type": "string", "enum": ["ANSWERED", "NO ANSWER", "BUSY", "FAILED"]}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 1000}},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    ]


TRUNK_TYPES = {
    "name": "string", "title": "string", "login": "string", "from_user": "string", "domain": "string",
    "host": "string", "password": "string", "procedure": "string", "country_code": "string",
    "keepalive": "integer", "register": "boolean", "register_expires": "integer", "called_from": "string",
    "max_calls": "integer", "price_list": "string",
}


def _trunk_paths() -> dict[str, Any]:
    fields = {k: {"type": t, "nullable": True} for k, t in TRUNK_TYPES.items()}
    trunk = {"type": "object", "properties": {**{k: {"type": t} for k, t in TRUNK_TYPES.items()},
                                               "price_list": _NS, "status": {"type": "object"}},
             "required": ["name", "host", "login"]}
    name_param = {"name": "name", "in": "path", "required": True, "schema": _S, "example": "provider"}
    body = {"type": "object", "additionalProperties": False, "properties": fields}
    return {
        "/trunks": {
            "get": {"summary": "SIP trunks with their live status", "responses": {
                "200": _json({"type": "array", "items": trunk}, "trunks"), **_errors(401)}},
            "post": {"summary": "Add a trunk (seed: Configuration du Trunk)",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         **body, "required": ["name", "login", "host"]}}}},
                     "responses": {"201": _json(trunk, "the trunk"), **_errors(400, 401, 404, 409)}},
        },
        "/trunks/{name}": {
            "parameters": [name_param],
            "get": {"summary": "One trunk with its live status",
                    "responses": {"200": _json(trunk, "the trunk"), **_errors(401, 404)}},
            "patch": {"summary": "Change a trunk (an omitted or null field keeps its value; name renames)",
                      "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                      "responses": {"200": _json(trunk, "the trunk"), **_errors(400, 401, 404, 409)}},
            "delete": {"summary": "Delete a trunk",
                       "responses": {"200": _json(trunk, "the deleted trunk"), **_errors(401, 404)}},
        },
    }


def document(commands: frozenset[str], cdr: bool) -> dict[str, Any]:
    user = {"$ref": "#/components/schemas/User"}
    users_list = {"type": "array", "items": user}
    paths: dict[str, Any] = {
        "/me": {"get": {"summary": "The user the token acts as",
                        "responses": {"200": _json(user, "the user"), **_errors(401)}}},
        "/users": {
            "get": {"summary": "List users", "parameters": [
                {"name": "search", "in": "query", "schema": _S}],
                "responses": {"200": _json(users_list, "users"), **_errors(401)}},
            "post": {"summary": "Add a user",
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": _user_input(["name"], True)}}},
                     "responses": {"201": _json(user, "the new user"), **_errors(400, 401, 403, 409)}},
        },
        "/users/{ref}": {
            "parameters": [REF],
            "get": {"summary": "One user", "responses": {"200": _json(user, "the user"), **_errors(401, 404)}},
            "patch": {"summary": "Change a user",
                      "requestBody": {"required": True, "content": {"application/json": {
                          "schema": _user_input([], False)}}},
                      "responses": {"200": _json(user, "the user"), **_errors(400, 401, 403, 404, 409)}},
            "delete": {"summary": "Delete a user", "parameters": [
                {"name": "personal_data", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]},
                 "description": "also delete the user's calls"}],
                "responses": {"200": _json(user, "the deleted user"), **_errors(400, 401, 403, 404)}},
        },
        "/users/{ref}/passwords": {
            "parameters": [REF],
            "put": {"summary": "Set the SIP and/or WEB password (policy applies)",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "additionalProperties": False,
                        "properties": {"sip_password": _NS, "web_password": _NS}}}}},
                    "responses": {"200": _json(user, "the user"), **_errors(400, 401, 403, 404)}},
        },
        "/users.csv": {"get": {"summary": "Export users as CSV (super admin)", "responses": {
            "200": {"description": "CSV", "content": {"text/csv": {"schema": _S}}}, **_errors(401, 403)}}},
        "/users/import": {"post": {
            "summary": "Import users from CSV (all rows or none; super admin)",
            "requestBody": {"required": True, "content": {"text/csv": {"schema": _S}}},
            "responses": {"201": _json(users_list, "the new users"), **_errors(400, 401, 403)}}},
        "/password/generate": {"get": {"summary": "A random password that meets the policy",
                                       "responses": {"200": _json({"type": "object", "properties": {
                                           "password": _S}}, "a password"), **_errors(401)}}},
    }
    if "registrations.list" in commands:
        paths["/registrations"] = {"get": {"summary": "Registered contacts", "responses": {
            "200": _json({"type": "array", "items": {}}, "registrations"), **_errors(401)}}}
        paths["/registered"] = {"get": {"summary": "Extensions with a registered device", "responses": {
            "200": _json({"type": "array", "items": _S}, "extensions"), **_errors(401)}}}
    if "dialplan.trace" in commands:
        obj = {"type": "object"}
        paths["/dialplan/procedures"] = {"get": {"summary": "Dialplan procedures", "responses": {
            "200": _json({"type": "array", "items": obj}, "procedures"), **_errors(401)}}}
        paths["/dialplan/procedures/{name}"] = {"get": {
            "summary": "One procedure with its called numbers and applications",
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": _S}],
            "responses": {"200": _json(obj, "the procedure"), **_errors(400, 401, 404)}}}
        name_param = {"name": "name", "in": "path", "required": True, "schema": _S, "example": "main"}
        scalar = {"oneOf": [_S, {"type": "number"}, {"type": "boolean"}]}
        app = {"type": "object", "required": ["app"], "properties": {
            "app": _S, "params": {"type": "object", "additionalProperties": scalar}}}
        paths["/dialplan/procedures"]["post"] = {
            "summary": "Add a procedure",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["name"], "additionalProperties": False,
                "properties": {"name": _S, "description": _S}}}}},
            "responses": {"201": _json(obj, "the procedure"), **_errors(400, 401, 409)}}
        paths["/dialplan/procedures/{name}"]["patch"] = {
            "summary": "Rename or describe a procedure (references follow a rename)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False,
                "properties": {"new_name": _S, "description": _S}}}}},
            "responses": {"200": _json(obj, "the procedure"), **_errors(400, 401, 404, 409)}}
        paths["/dialplan/procedures/{name}"]["delete"] = {
            "summary": "Delete a procedure nobody uses",
            "responses": {"200": _json(obj, "deleted"), **_errors(400, 401, 404)}}
        paths["/dialplan/procedures/{name}"]["parameters"] = [name_param]
        paths["/dialplan/procedures/{name}"]["get"].pop("parameters", None)
        paths["/dialplan/procedures/{name}/includes"] = {"parameters": [name_param], "put": {
            "summary": "Set the included procedures, in order",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["includes"], "properties": {
                    "includes": {"type": "array", "items": _S}}}}}},
            "responses": {"200": _json(obj, "the procedure"), **_errors(400, 401, 404)}}}
        paths["/dialplan/procedures/{name}/entries"] = {"parameters": [name_param], "post": {
            "summary": "Add a called number with its applications",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["pattern"], "additionalProperties": False, "properties": {
                    "pattern": _S, "apps": {"type": "array", "items": app},
                    "position": {"type": "integer", "minimum": 0}}}}}},
            "responses": {"201": _json(obj, "the procedure"), **_errors(400, 401, 404, 409)}}}
        paths["/dialplan/procedures/{name}/entries/{pattern}"] = {
            "parameters": [name_param, {"name": "pattern", "in": "path", "required": True, "schema": _S}],
            "delete": {"summary": "Delete a called number",
                       "responses": {"200": _json(obj, "the procedure"), **_errors(400, 401, 404)}}}
        paths["/dialplan/trace"] = {"get": {
            "summary": "Dry-run a call through the dialplan and return its path",
            "parameters": [{"name": "from", "in": "query", "required": True, "schema": _S},
                           {"name": "to", "in": "query", "required": True, "schema": _S},
                           {"name": "procedure", "in": "query", "schema": _S},
                           {"name": "at", "in": "query", "schema": _S,
                            "description": "when the call happens (YYYY-MM-DD HH:MM)"}],
            "responses": {"200": _json(obj, "the trace lines and the outcome"), **_errors(400, 401, 404)}}}
    if "calls.list" in commands:
        paths["/calls"] = {"get": {"summary": "Live calls", "responses": {
            "200": _json({"type": "array", "items": {}}, "calls"), **_errors(401)}}}
    if "calls.originate" in commands:
        paths.setdefault("/calls", {})["post"] = {
            "summary": "Generate a call: ring an extension, then dial a number from it (76: echo test)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["extension", "number"], "additionalProperties": False,
                "properties": {"extension": _S, "number": _S,
                               "procedure": {"type": "string", "description": "default: the extension's own"}}}}}},
            "responses": {"201": _json({"type": "object", "properties": {"call_id": _S, "state": _S}},
                                       "the call, ringing"), **_errors(400, 401)}}
    if "trunk.list" in commands:
        paths.update(_trunk_paths())
    if cdr:
        paths["/cdr"] = {"get": {"summary": "Call history, newest first", "parameters": _cdr_params(),
                                 "responses": {"200": _json({"type": "array", "items": {
                                     "type": "object"}}, "call records"), **_errors(400, 401)}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "wpbx API", "version": __version__,
                 "description": "Administration API of the wpbx PBX. Authenticate with "
                                "`Authorization: Bearer <token>` (tokens: Settings → API tokens)."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "User": _user_schema(),
                "Error": {"type": "object", "properties": {"error": _S, "field": _NS},
                          "required": ["error"]},
            },
        },
        "paths": paths,
    }
