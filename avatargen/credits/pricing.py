"""Credit prices: pure functions, no I/O."""

BASE_COST = 5
HD_SURCHARGE = 2
PRIORITY_SURCHARGE = 3
CANDIDATE_SURCHARGE = 2  # each image made beyond the first, when the most alike of several is kept
CANDIDATES = (1, 2, 4)  # how many images of one pose a generation may make


def generation_cost(quality: str, priority: bool, candidates: int = 1) -> int:
    """Credits one generation costs: base 5, HD +2, priority +3, +2 per candidate beyond the first (at most 16)."""
    if quality not in ("sd", "hd"):
        raise ValueError(f"unknown quality {quality!r}")
    if candidates not in CANDIDATES:
        raise ValueError(f"candidates must be one of {CANDIDATES}, not {candidates!r}")
    return (
        BASE_COST
        + (HD_SURCHARGE if quality == "hd" else 0)
        + (PRIORITY_SURCHARGE if priority else 0)
        + CANDIDATE_SURCHARGE * (candidates - 1)
    )


VIDEO_BASE_COST = 20
VIDEO_HD_SURCHARGE = 10
VIDEO_CLIP_FRAMES = 16  # frames a clip's price covers: a longer clip pays the base and HD again per 16 frames


def video_cost(quality: str, priority: bool, frames: int = VIDEO_CLIP_FRAMES) -> int:
    """Credits one video clip costs: base 20, HD +10, per 16 frames started (2 s at 8 fps), priority +3 once."""
    if quality not in ("sd", "hd"):
        raise ValueError(f"unknown quality {quality!r}")
    if frames < 1:
        raise ValueError(f"a clip has at least one frame, not {frames}")
    clips = -(-frames // VIDEO_CLIP_FRAMES)
    per_clip = VIDEO_BASE_COST + (VIDEO_HD_SURCHARGE if quality == "hd" else 0)
    return clips * per_clip + (PRIORITY_SURCHARGE if priority else 0)
