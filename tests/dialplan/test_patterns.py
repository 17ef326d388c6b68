"""Called-number patterns, every example of the seed's "Syntaxe pour les modèles"."""

import pytest

from wpbxd.errors import ValidationError
from wpbxd.telephony.dialplan.patterns import best_match, compile_pattern


@pytest.mark.parametrize(
    "pattern, yes, no",
    [
        ("0.", ["01", "0612345678"], ["0", "10"]),
        ("1XX", ["100", "199"], ["10", "1000", "200"]),
        ("[37]2X", ["320", "729"], ["420", "32", "3200"]),
        ("X.", ["12", "0612"], ["1"]),
        ("XXX!", ["123", "1234"], ["12"]),
        ("XXX.", ["1234"], ["123"]),
        ("+XXXX.", ["+3912345", "+12345"], ["+1234", "0012345"]),
        ("00039.", ["000391234"], ["00039", "0003"]),
        ("0X.", ["012", "0612345678"], ["01", "0"]),
        ("0[67].", ["0612345678", "0712"], ["0512345678", "06"]),
        ("[1237-9]", ["1", "7", "9"], ["4", "6", "0"]),
        ("NXX", ["200", "999"], ["100", "099"]),
        ("ZX", ["10", "99"], ["01"]),
        ("101", ["101"], ["1010", "10"]),
    ],
)
def test_seed_pattern_examples(pattern, yes, no):
    p = compile_pattern(pattern)
    for number in yes:
        assert p.matches(number), (pattern, number)
    for number in no:
        assert not p.matches(number), (pattern, number)


def test_most_specific_wins_and_default_is_last():
    entries = [compile_pattern(t) for t in ["default", "X.", "0X.", "0[67].", "0612345678", "XXX!"]]
    assert best_match(entries, "0612345678").text == "0612345678"
    assert best_match(entries, "0612345679").text == "0[67]."
    assert best_match(entries, "0512345679").text == "0X."
    assert best_match(entries, "123").text == "XXX!"
    assert best_match(entries, "1234").text == "XXX!"
    assert best_match(entries, "*76").text == "default"


def test_xxx_bang_beats_xxx_dot_on_three_digits_only_it_matches():
    bang, dot = compile_pattern("XXX!"), compile_pattern("XXX.")
    assert best_match([bang, dot], "123").text == "XXX!"
    assert best_match([dot, bang], "1234").text == "XXX."


@pytest.mark.parametrize("bad", ["", "1[23", "0.1", "[]", "[9-1]", "12a", "X!X"])
def test_invalid_patterns_are_refused_with_a_message(bad):
    with pytest.raises(ValidationError):
        compile_pattern(bad)
