"""What the web layer says when the feature behind a section is not running."""

from wpbxd.errors import UserError


class FeatureMissing(UserError):
    """The control command (or module) behind a section is not running."""
