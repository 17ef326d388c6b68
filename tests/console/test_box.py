"""The box's recovery code (for its label and the Info page) and the boot menu countdown."""

import json

from wpbxd.console.recovery import CODE_ALPHABET


def test_recovery_code_is_made_once_and_kept_across_restarts(wpbxd_factory, tmp_path):
    pbx = wpbxd_factory()
    first = json.loads(pbx.ctl("box", "--json").stdout)
    code = first["recovery_code"]
    groups = code.split("-")
    assert [len(g) for g in groups] == [4, 4, 4] and set("".join(groups)) <= set(CODE_ALPHABET)
    assert first["boot_countdown"] == 5
    assert "boot menu countdown: 0 s" in pbx.ctl("box", "countdown", "0").stdout
    bad = pbx.ctl("box", "countdown", "999", check=False)
    assert bad.returncode == 1 and "between 0 and 300" in bad.stderr
    pbx.stop()
    again = wpbxd_factory(data_dir=pbx.data_dir)
    assert json.loads(again.ctl("box", "--json").stdout) == {**first, "boot_countdown": 0}
    other = wpbxd_factory(name="other")
    assert json.loads(other.ctl("box", "--json").stdout)["recovery_code"] != code
