"""Rules shared by the applications that ring people (dial, call group).

ACL checks on dialled numbers, why a user should not be rung now (DND, busy with
call waiting off, not registered), the targets a user's preferences add
(mobility fork) and the missed-call notice. Policy comes from stored data (ACL
groups, call classes, user preferences); this module only applies it.

Rule: no SIP and no store here; everything goes through the context and RunEnv.
"""

import logging
from typing import TYPE_CHECKING

from wpbxd.events import MissedCall
from wpbxd.telephony.dialplan.context import CallContext, DialResult, DialStatus, DialTarget
from wpbxd.telephony.dialplan.model import CallPrefs, UserInfo

if TYPE_CHECKING:
    from wpbxd.telephony.dialplan.engine import RunEnv

log = logging.getLogger(__name__)

ACL_DENIED = (403, "Forbidden")


async def acl_allows(ctx: CallContext, env: "RunEnv", number: str) -> bool:
    """Check a dial to ``number`` against the ACL group of the user the call is charged to.

    An extension of this PBX is ``internal``; anything else takes the class of the
    number *as that user dialled it* (``env.acl_number``: the called number at the
    start of the call, or a forward's destination), so that stripping the outside
    line prefix on the way to a trunk does not turn 0612345678 into an "internal"
    612345678. A denied call is hung up with 403 and a trace and log line naming
    user, group and class. Calls from outside (trunks) carry no ACL unless a user
    forwarded them.
    """
    plan = env.plan
    subject = env.acl_subject(ctx)
    if subject is None:
        return True
    if number in plan.extensions:
        shown, (call_class, why) = number, ("internal", "an extension of this PBX")
    else:
        shown = env.acl_number or number
        call_class, why = plan.rules.classify(shown, plan.extensions)
    allowed = plan.acl.get(subject.acl_group, frozenset())
    if call_class in allowed:
        return True
    if call_class == "emergency" and plan.rules.emergency_bypasses_acl:
        env.trace(f"ACL: {shown} is an emergency number: allowed whatever group {subject.acl_group} says")
        return True
    dialled = "" if shown == number else f" (dialled as {shown})"
    line = (f"ACL: user {subject.extension} (group {subject.acl_group}) may not call {number}{dialled}:"
            f" class {call_class} ({why}) is not allowed; call refused with 403")
    env.trace(line)
    log.info("call %s: %s", ctx.call_id, line)
    await env.hangup(ctx, *ACL_DENIED)
    return False


def prefs_of(ctx: CallContext, env: "RunEnv", user: UserInfo) -> tuple[CallPrefs, str]:
    call_class = env.call_class(ctx)
    return user.prefs_for(call_class), call_class


def skip_reason(ctx: CallContext, env: "RunEnv", extension: str, ring_in_use: bool = True) -> str | None:
    """Why ``extension`` should not be rung now, or None (call-group members, multi-dial)."""
    user = env.plan.users.get(extension)
    if user is not None:
        prefs, call_class = prefs_of(ctx, env, user)
        if prefs.dnd:
            return f"do not disturb ({call_class} calls)"
    state = ctx.extension_state(extension)
    if not state.registered:
        return "not registered"
    if state.active_calls > 0:
        if user is not None and not prefs.call_waiting:
            return "busy, call waiting off"
        if not ring_in_use:
            return "busy in another call"
    return None


def user_targets(ctx: CallContext, env: "RunEnv", user: UserInfo, ring_time: float | None) -> list[DialTarget]:
    """The desk phone, plus the mobility number after its delay when the user asks so."""
    prefs, _ = prefs_of(ctx, env, user)
    targets = [DialTarget(user.extension, 0.0, ring_time)]
    if user.mobility and prefs.mobility_delay is not None:
        targets.append(DialTarget(user.mobility, float(prefs.mobility_delay), None))
    return targets


async def ring(ctx: CallContext, env: "RunEnv", targets: list[DialTarget], timeout: float | None) -> DialResult:
    shown = " & ".join(t.number + (f" after {t.delay:g} s" if t.delay else "")
                       + (f" for {t.ring_time:g} s" if t.ring_time else "") for t in targets)
    env.trace(f"ring {shown}" + (f" (timeout {timeout:g} s)" if timeout else ""))
    result = await ctx.ring(targets, timeout)
    env.trace(f"ring ended: {result.status.value}"
              + (f" ({result.sip_code} {result.reason})" if result.sip_code else "")
              + (f", answered by {result.answered_by}" if result.answered_by else ""))
    env.last_dial = result
    if result.status == DialStatus.ANSWERED and result.answered_by:
        env.plan.memory.last_answer[result.answered_by] = env.clock()
    return result


def notify_missed(ctx: CallContext, env: "RunEnv", user: UserInfo) -> None:
    prefs, _ = prefs_of(ctx, env, user)
    if prefs.missed_email:
        env.trace(f"missed call for {user.extension}: email notification")
        ctx.publish(MissedCall(user.extension, ctx.caller_number, ctx.caller_name, ctx.called, env.clock()))
