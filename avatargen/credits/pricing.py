"""Credit prices: pure functions, no I/O."""

BASE_COST = 5
HD_SURCHARGE = 2
PRIORITY_SURCHARGE = 3


def generation_cost(quality: str, priority: bool) -> int:
    """Credits one generation costs: base 5, HD +2, priority +3 (at most 10)."""
    if quality not in ("sd", "hd"):
        raise ValueError(f"unknown quality {quality!r}")
    return BASE_COST + (HD_SURCHARGE if quality == "hd" else 0) + (PRIORITY_SURCHARGE if priority else 0)
