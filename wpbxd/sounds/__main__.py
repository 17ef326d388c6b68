"""``python -m wpbxd.sounds build DIR [LANG ...]``: generate the system prompts (the build step).

Files land in ``DIR/system/<lang>/`` and in the generation cache, so a later
daemon start or test run only copies them.
"""

import sys
from pathlib import Path

from wpbxd.errors import UserError
from wpbxd.sounds.library import SoundLibrary
from wpbxd.sounds.prompts import LANGUAGES


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "build":
        print("usage: python -m wpbxd.sounds build DIR [LANG ...]", file=sys.stderr)
        return 2
    languages = tuple(argv[2:]) or ("en", "fr")
    bad = [lang for lang in languages if lang not in LANGUAGES]
    if bad:
        print(f"unknown language {bad[0]!r} (known: {', '.join(LANGUAGES)})", file=sys.stderr)
        return 2
    try:
        written = SoundLibrary(Path(argv[1]), packages=languages).build()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{written} prompt(s) generated under {argv[1]}/system ({', '.join(languages)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
