"""IVR ("SVI", seed: "Création d'une arborescence SVI"): a tree of menus the caller walks
with keypad digits (RFC 4733, SIP INFO or in-band).

Parameter ``tree``: the root node. A node is either
  - a *sub-menu* ``{"type": "menu", "sound": NAME, "repeat": 3, "timeout": 5,
    "return_code": "*", "timeout_procedure": P, "timeout_number": N,
    "keys": {"1": node, "2": node, ...}}``: plays its sound (``repeat`` times, each
    followed by ``timeout`` seconds of waiting for a key). A key of ``keys`` goes to
    that node; the return code goes back to the previous menu; after the last
    repetition without a key (or as many wrong keys) the call goes to the timeout
    procedure with the timeout number (the called number is kept when empty) — or,
    with no timeout procedure, the next application runs;
  - an *action* ``{"type": "action", "procedure": P, "number": N}``: stops the IVR
    and continues the call in procedure P, with N as the new called number
    (``${called}`` allowed; empty keeps it).
Menus nest to any depth up to ``MAX_DEPTH``.
"""

from typing import TYPE_CHECKING, Any

from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan.apps.base import (
    CONTINUE,
    STOP,
    Application,
    Jump,
    Step,
    check_number_template,
    expand,
    seconds,
)
from wpbxd.telephony.dialplan.context import CallContext
from wpbxd.telephony.media.announcements import ALL_KEYS, Media, MediaUnavailable, count, open_media
from wpbxd.telephony.media.channel import ChannelClosed

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

MAX_DEPTH = 10
MAX_NODES = 500
MAX_REPEAT = 10
DEFAULT_REPEAT = 3
DEFAULT_TIMEOUT = 5.0   # seconds of waiting for a key after each play
MAX_TIMEOUT = 120


def _check_node(node: Any, path: str, depth: int, counter: list[int]) -> dict[str, Any]:
    where = f"tree{path}"
    if not isinstance(node, dict):
        raise ValidationError(f"{where}: a node is an object with a type (menu or action)", "tree")
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise ValidationError(f"an IVR has at most {MAX_NODES} nodes", "tree")
    if depth > MAX_DEPTH:
        raise ValidationError(f"{where}: an IVR is at most {MAX_DEPTH} levels deep", "tree")
    kind = str(node.get("type") or "").strip().lower()
    if kind == "action":
        procedure = str(node.get("procedure") or "").strip()
        if not procedure:
            raise ValidationError(f"{where}: an action node needs a procedure", "tree")
        number = str(node.get("number") or "").strip()
        if number:
            check_number_template(number, "tree")
        return {"type": "action", "procedure": procedure, "number": number}
    if kind != "menu":
        raise ValidationError(f"{where}: type must be 'menu' or 'action', not {kind!r}", "tree")
    sound = str(node.get("sound") or "").strip()
    if sound:
        from wpbxd.sounds.library import check_name
        try:
            check_name(sound)
        except ValidationError as err:
            raise ValidationError(f"{where}: {err.message}", "tree") from None
    try:
        repeat = count(node, "repeat", 1, MAX_REPEAT, DEFAULT_REPEAT)
        timeout = seconds(node, "timeout", 1, MAX_TIMEOUT, DEFAULT_TIMEOUT)
    except ValidationError as err:
        raise ValidationError(f"{where}.{err.field}: {err.message}", "tree") from None
    return_code = str(node.get("return_code") or "").strip()
    if return_code and (len(return_code) != 1 or return_code not in ALL_KEYS):
        raise ValidationError(f"{where}: the return code is one key (0-9, * or #)", "tree")
    timeout_procedure = str(node.get("timeout_procedure") or "").strip()
    timeout_number = str(node.get("timeout_number") or "").strip()
    if timeout_number:
        check_number_template(timeout_number, "tree")
        if not timeout_procedure:
            raise ValidationError(f"{where}: a timeout number needs a timeout procedure", "tree")
    keys = node.get("keys") or {}
    if not isinstance(keys, dict):
        raise ValidationError(f"{where}: keys maps a key to a node", "tree")
    children = {}
    for key, child in keys.items():
        key = str(key).strip()
        if len(key) != 1 or key not in ALL_KEYS:
            raise ValidationError(f"{where}: {key!r} is not a key (0-9, * or #)", "tree")
        if key == return_code:
            raise ValidationError(f"{where}: key {key!r} is also the return code", "tree")
        children[key] = _check_node(child, f"{path}.keys.{key}", depth + 1, counter)
    return {"type": "menu", "sound": sound, "repeat": repeat, "timeout": timeout, "return_code": return_code,
            "timeout_procedure": timeout_procedure, "timeout_number": timeout_number, "keys": children}


def _procedures(node: dict[str, Any]) -> list[str]:
    if node["type"] == "action":
        return [node["procedure"]]
    found = [node["timeout_procedure"]] if node["timeout_procedure"] else []
    for child in node["keys"].values():
        found += _procedures(child)
    return found


class Ivr(Application):
    name = "ivr"
    description = "IVR"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        tree = params.get("tree")
        if tree is None:
            raise ValidationError("an IVR needs its tree (the first menu)", "tree")
        root = _check_node(tree, "", 1, [0])
        if root["type"] != "menu":
            raise ValidationError("the first node of an IVR is a menu", "tree")
        return {"tree": root}

    def references(self) -> list[tuple[str, str]]:
        return [("procedure", p) for p in dict.fromkeys(_procedures(self.params["tree"]))]

    def jumps(self) -> list[tuple[str, bool]]:
        return [(p, False) for p in dict.fromkeys(_procedures(self.params["tree"]))]

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        try:
            media = await open_media(ctx, env)
            return await self._walk(ctx, env, media)
        except MediaUnavailable as err:
            env.trace(str(err))
            await env.hangup(ctx, 503, "Service Unavailable")
            return STOP
        except ChannelClosed:
            env.trace("caller hung up in the IVR")
            return STOP

    async def _walk(self, ctx: CallContext, env: "RunEnv", media: Media) -> Step:
        stack: list[dict[str, Any]] = []
        node = self.params["tree"]
        level = 1
        while True:
            env.trace(f"IVR level {level}" + (f": {node['sound']!r}" if node["sound"] else ""))
            key = await self._choice(media, node, env, can_return=bool(stack))
            if key is None:
                if node["timeout_procedure"]:
                    number = expand(node["timeout_number"], ctx) if node["timeout_number"] else None
                    env.trace(f"IVR: no choice, timeout action to {node['timeout_procedure']}")
                    return Jump(node["timeout_procedure"], number)
                env.trace("IVR: no choice")
                return CONTINUE
            if key == node["return_code"]:
                node = stack.pop()
                level -= 1
                continue
            child = node["keys"][key]
            if child["type"] == "action":
                number = expand(child["number"], ctx) if child["number"] else None
                env.trace(f"IVR: key {key} -> procedure {child['procedure']}"
                          + (f" with {number!r}" if number else ""))
                return Jump(child["procedure"], number)
            env.trace(f"IVR: key {key} -> sub-menu")
            stack.append(node)
            node = child
            level += 1

    @staticmethod
    async def _choice(media: Media, node: dict[str, Any], env: "RunEnv", can_return: bool) -> str | None:
        """Play the menu up to ``repeat`` times; the first valid key, or None. A wrong key
        uses up one repetition (and hears "invalid entry")."""
        channel = media.channel
        valid = set(node["keys"])
        if node["return_code"] and can_return:
            valid.add(node["return_code"])
        for _ in range(node["repeat"]):
            if node["sound"]:
                await media.say(node["sound"], ALL_KEYS)
            key = await channel.collect_digits(1, node["timeout"], node["timeout"], terminators="")
            if not key:
                continue
            if key in valid:
                return key
            env.trace(f"IVR: key {key} is not a choice here")
            channel.flush_digits()
            await media.say("invalid")
        return None
