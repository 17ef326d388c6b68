"""Sans-IO rules of the upgrade: versions, manifests, signatures, bundle files and
the A/B slot state machine (wpbxd.services.upgrade)."""

import json
import tarfile

import pytest

from wpbxd.services import upgrade as up
from wpbxd.services.upgrade import BundleError, SlotState


def test_versions_compare_like_pep440():
    order = ["0.9", "1.0.0.dev1", "1.0.0a1", "1.0.0b2", "1.0.0rc1", "1.0", "1.0.0.post1", "1.0.1", "1.10"]
    parsed = [up.parse_version(v) for v in order]
    assert parsed == sorted(parsed)
    assert up.parse_version("1.0") == up.parse_version("1.0.0")
    for bad in ("", "one", "1.0-beta", "v1.0"):
        with pytest.raises(BundleError, match="invalid version"):
            up.parse_version(bad)


def test_downgrade_and_same_version_are_refused_in_the_seed_words():
    with pytest.raises(BundleError, match="La rétrogradation n'est pas prise en charge"):
        up.check_upgrade("0.2.0", {"version": "0.1.9"})
    with pytest.raises(BundleError, match="already installed"):
        up.check_upgrade("0.2.0", {"version": "0.2"})
    with pytest.raises(BundleError, match="upgrades from 0.2.0 or later"):
        up.check_upgrade("0.1.0", {"version": "0.3.0", "min_version": "0.2.0"})
    up.check_upgrade("0.1.0", {"version": "0.1.1"})


@pytest.fixture(scope="module")
def keypair():
    return up.generate_key()


@pytest.fixture
def members(tmp_path):
    files = {}
    for name in up.MEMBERS:
        path = tmp_path / name
        path.write_bytes(name.encode() * 1000)
        files[name] = path
    return files


def test_signature_verifies_only_with_the_trusted_key(keypair):
    private, public = keypair
    other_private, other_public = up.generate_key()
    data = b'{"version": "1.0"}'
    signature = up.sign(private, data)
    up.verify_signature(data, signature, [other_public, public])
    with pytest.raises(BundleError, match="bad signature"):
        up.verify_signature(data, signature, [other_public])
    with pytest.raises(BundleError, match="bad signature"):
        up.verify_signature(data + b" ", signature, [public])
    with pytest.raises(BundleError, match="no upgrade signing key"):
        up.verify_signature(data, signature, [])
    assert up.public_key_of(private) == public


def test_a_bundle_round_trips_and_every_tampering_is_refused(tmp_path, keypair, members):
    private, public = keypair
    bundle = tmp_path / "new.wpbx"
    up.write_bundle(bundle, private, "0.2.0", members, root_size=3000)
    manifest = up.inspect_bundle(bundle, [public], "0.1.0")
    assert manifest["version"] == "0.2.0" and set(manifest["members"]) == set(up.MEMBERS)
    fractions = []
    up.verify_members(bundle, manifest, fractions.append)
    assert fractions[-1] == pytest.approx(1.0)

    # a member changed after signing: the checksum catches it
    members[up.KERNEL_MEMBER].write_bytes(b"evil" * 1000 + b"ab")
    tampered = tmp_path / "tampered.wpbx"
    with tarfile.open(bundle) as src, tarfile.open(tampered, "w") as dst:
        for info in src:
            if info.name == up.KERNEL_MEMBER:
                dst.add(members[up.KERNEL_MEMBER], arcname=up.KERNEL_MEMBER)
            else:
                dst.addfile(info, src.extractfile(info))
    with pytest.raises(BundleError, match="size .* differs|checksum mismatch"):
        up.verify_members(tampered, up.inspect_bundle(tampered, [public], "0.1.0"))

    # the manifest changed after signing: the signature catches it
    forged = tmp_path / "forged.wpbx"
    with tarfile.open(bundle) as src, tarfile.open(forged, "w") as dst:
        for info in src:
            data = src.extractfile(info).read()
            if info.name == up.MANIFEST:
                body = json.loads(data)
                body["version"] = "9.0.0"
                data = json.dumps(body).encode()
                info.size = len(data)
            dst.addfile(info, up._Bytes(data))
    with pytest.raises(BundleError, match="bad signature"):
        up.inspect_bundle(forged, [public], "0.1.0")

    with pytest.raises(BundleError, match="rétrogradation"):
        up.inspect_bundle(bundle, [public], "0.3.0")
    junk = tmp_path / "junk.wpbx"
    junk.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(BundleError, match="not a wpbx update bundle"):
        up.inspect_bundle(junk, [public], "0.1.0")
    truncated = tmp_path / "truncated.wpbx"
    truncated.write_bytes(bundle.read_bytes()[:4000])
    with pytest.raises(BundleError):
        up.verify_members(truncated, manifest)


def test_manifest_shape_is_checked_before_use():
    good = json.loads(up.make_manifest("1.0", {m: (1, "0" * 64) for m in up.MEMBERS}, 0.0))
    assert up.check_manifest(good) is good
    for broken in ({**good, "format": "other"}, {**good, "format_version": 2},
                   {**good, "members": {up.ROOT_MEMBER: {"size": 1, "sha256": "0" * 64}}},
                   {**good, "members": {**good["members"], up.KERNEL_MEMBER: {"size": -1, "sha256": "0" * 64}}}):
        with pytest.raises(BundleError):
            up.check_manifest(broken)


def test_a_trial_that_becomes_healthy_is_confirmed():
    state = SlotState(active="a", versions=(("a", "0.1.0"),))
    assert up.boot_default(state) == "a"
    state = up.begin_trial(state, running="a", target="b", version="0.2.0", deadline=60)
    assert up.boot_default(state) == "b"           # the next boot tries B
    state, watch = up.on_boot(state, "b")
    assert watch and state.tries == 1
    assert up.boot_default(state) == "a"           # any reboot from now on falls back
    state = up.on_healthy(state, "b")
    assert state.active == "b" and state.trial is None and up.boot_default(state) == "b"
    assert "upgraded to 0.2.0" in state.last_result
    assert state.version_of("a") == "0.1.0" and state.version_of("b") == "0.2.0"
    assert up.on_boot(state, "b") == (state, False)  # later boots are plain


def test_a_trial_that_never_becomes_healthy_falls_back():
    state = up.begin_trial(SlotState(active="a", versions=(("a", "0.1.0"),)), "a", "b", "0.2.0")
    state, watch = up.on_boot(state, "b")
    assert watch
    # the health check rebooted (or the box crashed): the boot loader starts A
    state, watch = up.on_boot(state, up.boot_default(state))
    assert not watch and state.active == "a" and state.trial is None
    assert "upgrade to 0.2.0 failed" in state.last_result and "slot A (0.1.0)" in state.last_result
    # a late confirmation from the failed slot changes nothing
    assert up.on_healthy(state, "b") == state


def test_a_trial_slot_started_twice_without_confirmation_is_failed():
    state = up.begin_trial(SlotState(active="a"), "a", "b", "0.2.0")
    state, _ = up.on_boot(state, "b")
    state, watch = up.on_boot(state, "b")
    assert not watch and state.trial is None and state.active == "a"


def test_the_running_slot_cannot_be_the_target():
    with pytest.raises(up.UserError, match="running slot"):
        up.begin_trial(SlotState(active="a"), "a", "a", "0.2.0")


def test_extlinux_config_boots_the_default_slot_with_its_label():
    state = up.begin_trial(SlotState(active="a", versions=(("a", "0.1.0"),)), "a", "b", "0.2.0")
    conf = up.render_extlinux(state, up.APPEND)
    assert conf.startswith("DEFAULT slot-b\n")
    assert "APPEND root=LABEL=wpbx-b wpbx.slot=b rw console=ttyS0,19200n8" in conf
    assert "LINUX /a/vmlinuz" in conf and "INITRD /b/initrd.img" in conf
    assert up.running_slot("BOOT_IMAGE=/b/vmlinuz root=LABEL=wpbx-b wpbx.slot=b rw") == "b"
    assert up.running_slot("root=LABEL=wpbx-root rw") is None


def test_slot_state_survives_json_and_rejects_nonsense():
    state = up.begin_trial(SlotState(versions=(("a", "0.1.0"),)), "a", "b", "0.2.0")
    assert SlotState.from_json(state.to_json()) == state
    with pytest.raises(ValueError):
        SlotState.from_json(json.dumps({"active": "c"}))
