"""What a person chooses for a generation, parsed once by the endpoint layer and passed down as one value."""

from dataclasses import dataclass
from pathlib import Path

from avatargen.credits.pricing import CANDIDATES
from avatargen.engine.config import MAX_IDENTITY_IMAGES
from avatargen.errors import UserError
from avatargen.presets import QUALITIES, STYLES

MAX_BATCH = 8  # poses one request may generate at once
MAX_PHOTOS = MAX_IDENTITY_IMAGES  # photos of the person per generation: `photo` and the rest in `more_photos`
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class GenerationOptions:
    quality: str = "sd"  # a key of presets.QUALITIES
    priority: bool = False  # jumps the queue, costs more
    style: str = "realistic"  # a key of presets.STYLES
    seed: int | None = None  # None: each generation draws its own
    mirror: bool = False  # the pose drawn as its mirror image
    more_photos: tuple[str | Path, ...] = ()  # up to MAX_PHOTOS - 1 more photos of the person, each checked
    webhook_url: str | None = None  # where to post each finished generation, besides the person's own hook
    request_id: str | None = None  # the client's idempotency key: the same one again answers the first result
    candidates: int = 1  # images made of each pose (CANDIDATES); the one most like the person is kept

    def __post_init__(self) -> None:
        check_choice("quality", self.quality, QUALITIES)
        check_choice("style", self.style, STYLES)
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise UserError(f"The seed must be a whole number from 0 to {MAX_SEED}.")
        if len(self.more_photos) > MAX_PHOTOS - 1:
            raise UserError(f"Up to {MAX_PHOTOS} photos of you: one photo and at most {MAX_PHOTOS - 1} more.")
        if self.candidates not in CANDIDATES:
            raise UserError(f"candidates must be one of {', '.join(map(str, CANDIDATES))}, not {self.candidates!r}.")


def check_choice(what: str, value: str, choices: dict) -> None:
    """A value must be one of the choices' keys; the message lists them."""
    if value not in choices:
        raise UserError(f"Unknown {what} {value!r}; choose one of: {', '.join(choices)}.")
