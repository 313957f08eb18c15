"""The strict parameter layer: what each parser accepts, and a message naming the parameter for everything else."""

import math

from avatargen.web import params
from tests.helpers import refused


def test_flags_are_booleans_or_their_names_never_truthy_guesses():
    assert params.flag("priority", True) is True and params.flag("priority", False) is False
    assert params.flag("priority", "false") is False and params.flag("priority", " TRUE ") is True
    assert params.flag("priority", None) is False
    for value in ("yes", "no", "1", "", [1], [], 1, 0, 1.0, {"a": 1}):
        assert refused(lambda value=value: params.flag("priority", value)).startswith("priority must be true or false")


def test_whole_numbers_refuse_fractions_bools_and_non_numbers():
    assert params.whole("seed", 7, lo=0, hi=10) == 7
    assert params.whole("seed", 7.0, lo=0, hi=10) == 7
    assert params.whole("seed", " 7 ", lo=0, hi=10) == 7
    assert params.whole("seed", None, lo=0, hi=10, default=None) is None
    for value in (1.5, True, False, "abc", "NaN", "Infinity", "inf", "1e3", "1.5", math.nan, math.inf, [1], [], {}):
        message = refused(lambda value=value: params.whole("seed", value, lo=0, hi=10))
        assert message.startswith("seed must be a whole number from 0 to 10"), message
    assert "not 11" in refused(lambda: params.whole("limit", 11, lo=1, hi=10))
    assert "not 9223372036854775808" in refused(lambda: params.whole("offset", 2**63, lo=0, hi=10))
    assert "limit must be" in refused(lambda: params.whole("limit", None, lo=1, hi=10))


def test_choices_and_text_are_exact_and_bounded():
    assert params.choice("quality", "hd", ("sd", "hd")) == "hd"
    assert "quality must be one of: sd, hd" in refused(lambda: params.choice("quality", ["sd"], ("sd", "hd")))
    assert "quality must be one of" in refused(lambda: params.choice("quality", "SD", ("sd", "hd")))
    assert params.choice("view", None, ("front",), default=None) is None

    assert params.text("search", "  hands on hips ", most=20) == "hands on hips"
    assert params.text("search", "   ", most=20, default=None) is None
    assert "search must be text, not 12" in refused(lambda: params.text("search", 12, most=20))
    assert "name must be text, not {'a': 1}" in refused(lambda: params.text("name", {"a": 1}, most=20))
    message = refused(lambda: params.text("search", "a " * 500_000, most=100))
    assert message == "search must be at most 100 characters; this one has 999999."


def test_ids_and_id_lists():
    assert params.ident("id", " abc-123_x ") == "abc-123_x"
    for value in ("../etc/passwd", "a b", "x" * 65, 12, None, "", ["a"]):
        assert refused(lambda value=value: params.ident("id", value)).startswith("id ")
    assert params.idents("pose_ids", ["a", "b", "a"], most=2) == ["a", "b"]
    assert "at most 2" in refused(lambda: params.idents("pose_ids", ["a", "b", "c"], most=2))
    assert "list of 1 to 2 ids" in refused(lambda: params.idents("pose_ids", "a", most=2))


def test_refused_values_are_shown_short():
    message = refused(lambda: params.flag("priority", "x" * 10_000))
    assert len(message) < 120
