"""Call classes for ACL rules (seed: "Paramètres généraux du Dialplan"). Pure.

A dialled number is classified from the national and international prefixes,
country code, mobile and premium prefixes and emergency numbers of the dialplan
general settings: ``internal`` (an extension of this PBX), ``emergency``,
``international``, ``mobile``, ``premium`` (premium/special) or ``national``.
An ACL group lists the classes its users may call; emergency numbers are allowed
whatever the group unless the admin turns ``dialplan.emergency_bypasses_acl``
off. This module only classifies; it does not read the store.
"""

from dataclasses import dataclass

CLASSES = ("internal", "national", "international", "mobile", "premium", "emergency")


def _split(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in str(text).split(",") if p.strip())


@dataclass(frozen=True)
class ClassRules:
    national_prefix: str = "0"
    international_prefix: str = "00"
    country_code: str = "33"
    mobile_prefixes: tuple[str, ...] = ("6", "7")
    premium_prefixes: tuple[str, ...] = ("8",)
    emergency_numbers: tuple[str, ...] = ("112", "15", "17", "18", "114")
    emergency_bypasses_acl: bool = True

    @classmethod
    def from_settings(cls, values: dict) -> "ClassRules":
        return cls(
            national_prefix=str(values.get("dialplan.national_prefix", "0")),
            international_prefix=str(values.get("dialplan.international_prefix", "00")),
            country_code=str(values.get("dialplan.country_code", "33")),
            mobile_prefixes=_split(values.get("dialplan.mobile_prefixes", "6,7")),
            premium_prefixes=_split(values.get("dialplan.premium_prefixes", "8")),
            emergency_numbers=_split(values.get("dialplan.emergency_numbers", "112")),
            emergency_bypasses_acl=bool(values.get("dialplan.emergency_bypasses_acl", 1)),
        )

    def classify(self, number: str, extensions: frozenset[str] | set[str]) -> tuple[str, str]:
        """(class, why) of ``number``; ``extensions`` are this PBX's extensions."""
        if number in extensions:
            return "internal", "an extension of this PBX"
        if number in self.emergency_numbers:
            return "emergency", "an emergency number"
        national: str | None = None
        if number.startswith("+"):
            rest = number[1:]
            if self.country_code and rest.startswith(self.country_code):
                national = rest[len(self.country_code):]
            else:
                return "international", "starts with +"
        elif self.international_prefix and number.startswith(self.international_prefix):
            rest = number[len(self.international_prefix):]
            if self.country_code and rest.startswith(self.country_code):
                national = rest[len(self.country_code):]
            else:
                return "international", f"starts with the international prefix {self.international_prefix}"
        elif self.national_prefix and number.startswith(self.national_prefix):
            national = number[len(self.national_prefix):]
        if national is None:
            return "internal", "no prefix and not external"
        for prefix in self.mobile_prefixes:
            if national.startswith(prefix):
                return "mobile", f"national number starting with {prefix}"
        for prefix in self.premium_prefixes:
            if national.startswith(prefix):
                return "premium", f"national number starting with {prefix}"
        return "national", "a national number"
