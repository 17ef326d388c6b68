"""Dial ("Appeler utilisateur ou numéro"): ring one or more extensions or a number.

Parameters: ``target`` — one destination or several separated by ``&``
(``${called}`` is the called number); ``timeout`` — seconds to ring (optional;
when the callee also set a call timeout, the shorter one applies; with neither,
the PBX ring time).

Every number is checked against the ACL group of the calling user first (a
denied call ends with 403). When the target is a single user, that user's call
preferences for this call class (internal or external) apply: reject all calls
(DND), forward always / when busy / when unavailable (to a number, dialled
through the user's own procedure, or VOICEMAIL), call waiting off (a second call
gets busy), call timeout, mobility fork, missed-call email. When several targets
ring at once, members with DND, or busy with call waiting off, are left out.

When the call is answered the dialplan stops; when nobody answers before the
timeout (or everybody is busy or unavailable), the next application runs and the
caller would get the failure's SIP code if nothing else handles the call.
"""

from typing import TYPE_CHECKING, Any

from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan import ringing
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
from wpbxd.telephony.dialplan.context import CallContext, DialResult, DialStatus, DialTarget
from wpbxd.telephony.dialplan.model import VOICEMAIL, UserInfo

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

MAX_TARGETS = 50


class Dial(Application):
    name = "dial"
    description = "Call user or number"

    @classmethod
    def validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        target = str(params.get("target", "")).strip()
        if not target:
            raise ValidationError("dial needs a target (extension, number or ${called})", "target")
        parts = [t.strip() for t in target.split("&")]
        if any(not p for p in parts):
            raise ValidationError(f"{target!r}: an empty target between '&'", "target")
        if len(parts) > MAX_TARGETS:
            raise ValidationError(f"at most {MAX_TARGETS} targets", "target")
        for part in parts:
            check_number_template(part, "target")
        timeout = seconds(params, "timeout", 1, 3600, None)
        return {"target": "&".join(parts), "timeout": timeout}

    async def run(self, ctx: CallContext, env: "RunEnv") -> Step:
        targets = [expand(t, ctx) for t in self.params["target"].split("&")]
        timeout = self.params["timeout"]
        for number in targets:
            if not await ringing.acl_allows(ctx, env, number):
                return STOP
        users = [env.plan.users.get(t) for t in targets]
        if len(targets) == 1 and users[0] is not None:
            return await self._ring_user(ctx, env, users[0], timeout)
        ring_list: list[DialTarget] = []
        for number, user in zip(targets, users, strict=True):
            if user is None:
                ring_list.append(DialTarget(number))
                continue
            why = ringing.skip_reason(ctx, env, number)
            if why is not None:
                env.trace(f"{number} left out: {why}")
                continue
            prefs, _ = ringing.prefs_of(ctx, env, user)
            ring_list.extend(ringing.user_targets(ctx, env, user, prefs.call_timeout))
        if not ring_list:
            env.last_dial = DialResult(DialStatus.BUSY, 486, "Busy Here")
            env.trace("nobody to ring")
            return CONTINUE
        result = await ringing.ring(ctx, env, ring_list, timeout or env.plan.ring_time)
        return STOP if result.status in (DialStatus.ANSWERED, DialStatus.CANCELLED) else CONTINUE

    async def _ring_user(self, ctx: CallContext, env: "RunEnv", user: UserInfo, timeout: float | None) -> Step:
        prefs, call_class = ringing.prefs_of(ctx, env, user)
        ext = user.extension
        if prefs.dnd:
            env.trace(f"{ext} rejects all {call_class} calls (do not disturb)")
            env.last_dial = DialResult(DialStatus.BUSY, 486, "Busy Here")
            return CONTINUE
        if prefs.fwd_always:
            return await _forward(ctx, env, user, prefs.fwd_always, f"always ({call_class} calls)")
        state = ctx.extension_state(ext)
        if not state.registered:
            env.trace(f"{ext} is not registered")
            env.last_dial = DialResult(DialStatus.UNAVAILABLE, 480, "Temporarily Unavailable")
            if prefs.fwd_unavailable:
                return await _forward(ctx, env, user, prefs.fwd_unavailable, "when unavailable")
            if prefs.mobility_delay is None or not user.mobility:
                return CONTINUE
        elif state.active_calls > 0 and not prefs.call_waiting:
            env.trace(f"{ext} is in a call and call waiting is off: busy")
            env.last_dial = DialResult(DialStatus.BUSY, 486, "Busy Here")
            if prefs.fwd_busy:
                return await _forward(ctx, env, user, prefs.fwd_busy, "when busy")
            return CONTINUE
        limits = [t for t in (prefs.call_timeout, timeout) if t]
        ring_time = min(limits) if limits else env.plan.ring_time
        targets = ringing.user_targets(ctx, env, user, ring_time)
        if not state.registered:
            targets = targets[1:]
        result = await ringing.ring(ctx, env, targets, ring_time)
        if result.status == DialStatus.ANSWERED:
            return STOP
        if result.status == DialStatus.CANCELLED:
            ringing.notify_missed(ctx, env, user)
            return STOP
        if result.status == DialStatus.BUSY and prefs.fwd_busy:
            return await _forward(ctx, env, user, prefs.fwd_busy, "when busy")
        if result.status in (DialStatus.NO_ANSWER, DialStatus.UNAVAILABLE):
            ringing.notify_missed(ctx, env, user)
            if prefs.fwd_unavailable:
                return await _forward(ctx, env, user, prefs.fwd_unavailable, "when unavailable")
        return CONTINUE


async def _forward(ctx: CallContext, env: "RunEnv", user: UserInfo, destination: str, when: str) -> Step:
    """Forward: VOICEMAIL runs the voicemail application, a number goes through
    the forwarding user's own procedure, charged to that user's ACL group."""
    if destination.upper() == VOICEMAIL:
        from wpbxd.telephony.dialplan.apps.registry import applications

        env.trace(f"{user.extension} forwards {when} to voicemail")
        voicemail = applications().get("voicemail")
        if voicemail is None:
            env.trace("application 'voicemail' not available")
            await env.hangup(ctx, 503, "application voicemail not available")
            return STOP
        return await voicemail({"box": user.extension}).run(ctx, env)
    env.trace(f"{user.extension} forwards {when} to {destination} (through procedure {user.dialplan})")
    env.acl_user, env.acl_set, env.acl_number = user, True, destination
    return Jump(user.dialplan, destination)
