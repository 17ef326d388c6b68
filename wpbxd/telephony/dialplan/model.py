"""Records the compiled dialplan carries besides procedures. Pure data, no I/O.

Switches, call groups (with the order each distribution strategy rings members
in), users with their call preferences per call class, and ``GroupMemory``: the
only mutable state of the dialplan (which member a round-robin group rang last,
when each member last answered), carried from one compiled snapshot to the next.
"""

import random
from dataclasses import dataclass, field

SWITCH_STATES = {2: ("on", "off"), 3: ("on", "off", "extra")}
STRATEGIES = ("ringall", "linear", "roundrobin", "random", "leastrecent")
PREF_CLASSES = ("internal", "external")
VOICEMAIL = "VOICEMAIL"


@dataclass(frozen=True)
class Switch:
    name: str
    states: int
    state: str


@dataclass(frozen=True)
class Member:
    extension: str
    ring_time: int | None = None


@dataclass(frozen=True)
class CallGroup:
    name: str
    strategy: str
    ring_time: int
    timeout: int
    ring_in_use: bool
    members: tuple[Member, ...]

    def member_ring_time(self, member: Member) -> int:
        return member.ring_time if member.ring_time is not None else self.ring_time


@dataclass(frozen=True)
class CallPrefs:
    """One user's call preferences for one call class (seed: "Fonctions")."""

    dnd: bool = False
    fwd_always: str = ""
    fwd_busy: str = ""
    fwd_unavailable: str = ""
    call_waiting: bool = True
    call_timeout: int | None = None
    mobility_delay: int | None = None
    missed_email: bool = False


NO_PREFS = CallPrefs()


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    extension: str
    name: str
    email: str | None
    mobility: str | None
    dialplan: str
    acl_group: str
    prefs: dict[str, CallPrefs] = field(default_factory=dict)

    def prefs_for(self, call_class: str) -> CallPrefs:
        return self.prefs.get(call_class, NO_PREFS)


@dataclass
class GroupMemory:
    """Round-robin positions and last-answer times, kept across reloads."""

    last_rung: dict[str, str] = field(default_factory=dict)       # group -> extension
    last_answer: dict[str, float] = field(default_factory=dict)   # extension -> unix time
    rng: random.Random = field(default_factory=random.Random)

    def order(self, group: CallGroup) -> list[Member]:
        """The members in the order the group's strategy tries them."""
        members = list(group.members)
        if group.strategy == "roundrobin" and members:
            last = self.last_rung.get(group.name)
            names = [m.extension for m in members]
            start = (names.index(last) + 1) % len(members) if last in names else 0
            return members[start:] + members[:start]
        if group.strategy == "random":
            self.rng.shuffle(members)
            return members
        if group.strategy == "leastrecent":
            # stable sort: never-answered members first, in their configured order
            return sorted(members, key=lambda m: self.last_answer.get(m.extension, 0.0))
        return members
