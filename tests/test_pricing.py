import pytest

from avatargen.credits.pricing import generation_cost


@pytest.mark.parametrize(
    ("quality", "priority", "expected"),
    [("sd", False, 5), ("hd", False, 7), ("sd", True, 8), ("hd", True, 10)],
)
def test_price_is_base_plus_surcharges(quality, priority, expected):
    assert generation_cost(quality, priority) == expected


def test_unknown_quality_is_refused():
    with pytest.raises(ValueError, match="unknown quality"):
        generation_cost("4k", False)
