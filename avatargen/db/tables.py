"""Database tables (SQLModel) and their public JSON shapes."""

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Column, Index, Text
from sqlmodel import AutoString, Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Stored as plain text columns (sa_type=AutoString), so the schema stays what the migrations built.
class Role(StrEnum):
    user = "user"
    admin = "admin"


class Reason(StrEnum):
    """Why a balance changed."""

    grant = "grant"  # the starting credits
    daily = "daily"  # the daily top-up
    generation = "generation"  # a charge (negative)
    refund = "refund"
    admin = "admin"  # `python -m avatargen credits grant`


class Status(StrEnum):
    """pending → processing → completed | failed."""

    pending = "pending"
    processing = "processing"
    completed = "completed"
    failed = "failed"


class Kind(StrEnum):
    """What a generation makes."""

    image = "image"  # the person in a pose template
    video = "video"  # the person moving through a motion (pose_template_id names the motion)


UNFINISHED = (Status.pending, Status.processing)
FINISHED = (Status.completed, Status.failed)


# A person who signs in; the balance is the sum of their ledger.
class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    role: Role = Field(default=Role.user, sa_type=AutoString)
    password_hash: str | None = None  # scrypt, password auth only
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def stored_id(self) -> int:
        """The id the database gave this user on insert (services only ever see stored users)."""
        if self.id is None:
            raise ValueError(f"User {self.username!r} has not been stored yet.")
        return self.id


# One signed change to a balance: grant, generation (negative), refund or admin.
class CreditTransaction(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    delta: int
    reason: Reason = Field(sa_type=AutoString)
    generation_id: str | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow)


# A pose a person extracted from their own reference photo: only they can list and use it.
class CustomPose(SQLModel, table=True):
    id: str = Field(default_factory=lambda: f"custom-{uuid.uuid4().hex[:16]}", primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(max_length=80)
    view: str
    framing: str
    keypoints: list = Field(sa_column=Column(JSON, nullable=False))  # 18 × [x, y, visibility] on the 2:3 canvas
    created_at: datetime = Field(default_factory=utcnow)


# One avatar request and what became of it; the row is the truth, the queue only carries its id.
class Generation(SQLModel, table=True):
    __table_args__ = (
        Index("ix_generation_user_created", "user_id", "created_at"),
        # a retried request finds its first result; one row per pose of a batch
        Index("ix_generation_user_request", "user_id", "request_id", "pose_template_id", unique=True),
    )

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    kind: Kind = Field(default=Kind.image, sa_type=AutoString)
    pose_template_id: str
    input_image_path: str  # storage key of the cleaned photo
    # storage keys of more photos of the person (up to 3), in upload order
    extra_input_paths: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    output_image_path: str | None = None  # storage key of the result (a video's poster frame)
    preview_path: str | None = None  # storage key of the latest live preview while it is processing
    video_path: str | None = None  # a video's H.264 MP4 (storage key)
    animation_path: str | None = None  # a video's animated WebP (storage key)
    frames: int | None = None  # a video's frame count
    fps: int | None = None  # a video's frames per second
    quality: str  # sd | hd
    priority: bool = False
    style: str
    seed: int = Field(sa_type=BigInteger)  # 0 … 2**32-1: wider than PostgreSQL's INTEGER
    width: int
    height: int
    status: Status = Field(default=Status.pending, index=True, sa_type=AutoString)
    error_message: str | None = None
    credit_used: int
    progress: float = 0.0  # share of denoising steps done
    attempts: int = 0  # runs started; a crash mid-run leaves this behind
    placeholder: bool = False  # made by the placeholder model `auto` fell back to: free of charge
    mirrored: bool = False  # the pose drawn as its mirror image
    request_id: str | None = Field(default=None, max_length=64)  # the client's idempotency key, if it sent one
    # the public link's secret (`/s/<token>`, 192 random bits) while the owner shares the output, and its end
    share_token: str | None = Field(default=None, unique=True, index=True, max_length=64)
    share_expires_at: datetime | None = None  # None: shared until the owner stops it
    likeness: int | None = None  # 0-100: how much the output's face looks like the person's photos; None: no face
    candidates: int = Field(default=1, sa_column_kwargs={"server_default": "1"})  # images made; the most alike kept
    # the other candidates while they are kept: [{"path": storage key, "likeness": 0-100 or None}], best first
    alternatives: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    alternatives_expire_at: datetime | None = None  # when the alternatives' files are deleted
    created_at: datetime = Field(default_factory=utcnow, index=True)
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None  # last sign of life from the worker running it
    completed_at: datetime | None = None

    @property
    def input_image_paths(self) -> list[str]:
        """Every photo of the person this generation was asked with, the first one first."""
        return [self.input_image_path, *self.extra_input_paths]

    @property
    def stored_keys(self) -> list[str]:
        """Every file of this generation in storage: photos, output (a video's poster), live preview, a video's MP4
        and animation, best-of-N alternatives (what the orphan sweep must keep)."""
        files = (self.output_image_path, self.preview_path, self.video_path, self.animation_path)
        return [key for key in (*self.input_image_paths, *files, *(a["path"] for a in self.alternatives)) if key]

    def shared(self, now: datetime) -> bool:
        """Whether the output is public at its share link at `now`."""
        expires = self.share_expires_at
        return self.share_token is not None and (expires is None or expires > now)

    def to_public(self, *, site: str = "") -> dict:
        """The record clients see; `site` (the app's root URL) makes `shareUrl` absolute."""
        shared = self.shared(utcnow())
        return {
            "id": self.id,
            "userId": self.user_id,
            "kind": str(self.kind),
            "poseTemplateId": self.pose_template_id,
            "inputImageUrl": self.input_image_path,
            "moreInputImageUrls": list(self.extra_input_paths),
            "outputImageUrl": self.output_image_path,
            "previewUrl": self.preview_path if self.status == Status.processing else None,
            "motionId": self.pose_template_id if self.kind == Kind.video else None,
            "videoUrl": self.video_path,
            "animationUrl": self.animation_path,
            "posterUrl": self.output_image_path if self.kind == Kind.video else None,
            "frames": self.frames,
            "fps": self.fps,
            "durationSeconds": None if not (self.frames and self.fps) else round(self.frames / self.fps, 3),
            "quality": self.quality,
            "priority": self.priority,
            "style": self.style,
            "seed": self.seed,
            "width": self.width,
            "height": self.height,
            "status": str(self.status),
            "progress": round(self.progress, 3),
            "errorMessage": self.error_message,
            "placeholder": self.placeholder,
            "mirrored": self.mirrored,
            "requestId": self.request_id,
            "likeness": self.likeness,
            "candidates": self.candidates,
            "alternatives": [{"imageUrl": a["path"], "likeness": a["likeness"]} for a in self.alternatives],
            "creditUsed": self.credit_used,
            "createdAt": iso(self.created_at),
            "startedAt": iso(self.started_at),
            "completedAt": iso(self.completed_at),
            "shareUrl": f"{site}/s/{self.share_token}" if shared else None,
            "shareExpiresAt": iso(self.share_expires_at) if shared else None,
        }


# A worker process's sign of life, refreshed while it runs; `python -m avatargen status` lists the recent ones.
class WorkerBeat(SQLModel, table=True):
    name: str = Field(primary_key=True, max_length=200)  # host:pid
    threads: int
    started_at: datetime = Field(default_factory=utcnow)
    seen_at: datetime = Field(default_factory=utcnow)


# Where to POST a finished generation: per person (generation_id empty) or per request (that generation only).
class WebhookTarget(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    generation_id: str | None = Field(
        default=None, foreign_key="generation.id", ondelete="CASCADE", index=True, unique=True
    )
    url: str = Field(max_length=2000)


# A person's key for the REST API: only its SHA-256 is kept (the key is shown once, when made); several per person.
class ApiKey(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(max_length=64)  # what the person calls it ("laptop", "ci")
    key_hash: str = Field(unique=True, index=True, max_length=64)  # hex SHA-256 of the whole key
    prefix: str = Field(max_length=16)  # the key's first characters, to tell keys apart in a list
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
# A webhook delivery not yet made: written in the transaction that finishes its generation, sent by the outbox
# sender of any process, deleted once delivered or given up.
class WebhookOutbox(SQLModel, table=True):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True)  # X-Avatargen-Delivery
    generation_id: str = Field(max_length=64)
    url: str = Field(max_length=2000)
    body: str = Field(sa_column=Column(Text, nullable=False))
    attempts: int = 0  # deliveries tried so far
    due_at: datetime = Field(default_factory=utcnow, index=True)  # when to try next
    claimed_until: datetime | None = None  # a sender is trying it until then (another may take it after)
    created_at: datetime = Field(default_factory=utcnow)
