"""The page every listing query is bounded to, whatever a caller asks for."""

MAX_PAGE = 100  # rows one listing returns at most


def page_bounds(limit: int, offset: int, *, most: int = MAX_PAGE) -> tuple[int, int]:
    """The page a request gets: 1 to `most` rows, from a non-negative offset."""
    return max(1, min(most, int(limit))), max(0, int(offset))
