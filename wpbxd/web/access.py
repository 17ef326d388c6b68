"""Who may do what in the admin UI and the API (seed: "Ajouter / Importer des utilisateurs").

Only ``admin`` users get in. The super admin may do everything; another admin
may not edit, delete or set the passwords of an admin other than themselves,
nor make anyone an admin. CSV export and import are for the super admin only
(seed item 8). Pure functions over ``User`` records, used by pages and API alike.
"""

from wpbxd.config.users import User
from wpbxd.errors import UserError


class Forbidden(UserError):
    """The signed-in admin may not do this."""


def may_sign_in(user: User) -> bool:
    return user.type == "admin"


def may_manage(actor: User, target: User) -> bool:
    """May ``actor`` edit, delete or set the passwords of ``target``?"""
    if actor.is_super_admin:
        return True
    if target.type == "admin":
        return target.id == actor.id
    return True


def check_manage(actor: User, target: User) -> None:
    if not may_manage(actor, target):
        raise Forbidden("only the super admin can change other admins")


def check_type(actor: User, new_type: str | None, target: User | None = None) -> None:
    """Refuse a non-super admin making someone an admin."""
    if actor.is_super_admin or new_type != "admin":
        return
    if target is not None and target.id == actor.id:
        return
    raise Forbidden("only the super admin can create admins")


def check_super(actor: User, what: str) -> None:
    if not actor.is_super_admin:
        raise Forbidden(f"only the super admin can {what}")
