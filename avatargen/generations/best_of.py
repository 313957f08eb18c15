"""Best of N: a generation asked with `candidates` > 1 makes that many images of its pose (seeds one apart, in the
same engine call) and keeps the one most like the person; the others stay as alternatives for a day
(`jobs.ALTERNATIVES_KEPT`)."""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from avatargen.engine.engine import GenerationRequest
from avatargen.generations.options import MAX_SEED


@dataclass(frozen=True)
class Candidate:
    image: Image.Image
    seed: int
    likeness: int | None  # 0-100, None when no face shows


def candidate_requests(request: GenerationRequest, count: int) -> list[GenerationRequest]:
    """`count` requests that differ only in their seed: the row's own first, then the next ones (wrapping)."""
    return [dataclasses.replace(request, seed=(request.seed + i) % (MAX_SEED + 1)) for i in range(count)]


def ranked(
    images: Sequence[Image.Image], requests: Sequence[GenerationRequest], scores: Sequence[int | None]
) -> list[Candidate]:
    """The candidates, most alike first; a face beats none, and among equals the earlier seed comes first."""
    candidates = [
        Candidate(image, request.seed, score) for image, request, score in zip(images, requests, scores, strict=True)
    ]
    return sorted(candidates, key=lambda c: -1 if c.likeness is None else c.likeness, reverse=True)
