"""Password policy, generator, hashing (seed: "Modification du mot de passe Admin")."""

import pytest

from wpbxd.config import passwords
from wpbxd.errors import ValidationError


@pytest.mark.parametrize(
    "password, rule",
    [
        ("Sh0rt!", "at least 8"),
        ("alllower1!", "upper-case"),
        ("ALLUPPER1!", "lower-case"),
        ("NoDigits!!", "digit"),
        ("NoSpecial12", "special"),
        ("Has Space1!", "spaces"),
    ],
)
def test_weak_password_is_refused_with_the_rule_it_breaks(password, rule):
    with pytest.raises(ValidationError) as err:
        passwords.check_policy(password)
    assert rule in str(err.value)


def test_generated_passwords_satisfy_the_policy():
    for _ in range(200):
        assert passwords.policy_problems(passwords.generate()) == []


def test_hash_verifies_only_the_right_password_and_never_stores_it():
    stored = passwords.hash_secret("Corr3ct!horse")
    assert "Corr3ct" not in stored
    assert passwords.verify_secret("Corr3ct!horse", stored)
    assert not passwords.verify_secret("Corr3ct!hors", stored)
    assert not passwords.verify_secret("x", "garbage")
    assert stored != passwords.hash_secret("Corr3ct!horse")  # salted


def test_keypad_code_maps_letters_to_keys_and_specials_to_star():
    # seed: first five characters typed on the keypad, specials as '*'
    assert passwords.keypad_code("Wildix1!") == "94534"
    assert passwords.keypad_code("a!B2c") == "2*222"
