"""The poses a person may use: the library's, and their own custom poses (theirs alone).

May import `db`, `poses` (the library, extraction) and `storage` (photo checks).
"""

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from avatargen.credits.ledger import lock_user
from avatargen.db.connect import transaction
from avatargen.db.tables import UNFINISHED, CustomPose, Generation, User
from avatargen.errors import NotFound, UnknownPose, UserError
from avatargen.poses.library import PoseLibrary
from avatargen.poses.motions import MotionLibrary
from avatargen.poses.template import PoseTemplate
from avatargen.settings import Settings
from avatargen.storage.photos import load_photo, photo_work

CUSTOM_PREFIX = "custom-"
MAX_NAME = 60  # characters of a custom pose's name


def _custom_poses(session: Session, *, user_id: int) -> Sequence[CustomPose]:
    query = select(CustomPose).where(CustomPose.user_id == user_id).order_by(col(CustomPose.created_at).desc())
    return session.exec(query).all()


def _count_custom_poses(session: Session, *, user_id: int) -> int:
    return session.exec(select(func.count()).select_from(CustomPose).where(CustomPose.user_id == user_id)).one()


def _custom_pose(session: Session, *, user_id: int, pose_id: str) -> CustomPose | None:
    row = session.get(CustomPose, pose_id)
    return row if row is not None and row.user_id == user_id else None


def _in_use(session: Session, *, user_id: int, pose_id: str) -> bool:
    query = select(Generation.id).where(
        Generation.user_id == user_id, Generation.pose_template_id == pose_id, col(Generation.status).in_(UNFINISHED)
    )
    return session.exec(query.limit(1)).first() is not None


class PoseBook:
    def __init__(
        self, settings: Settings, *, database: Engine, library: PoseLibrary, motions: MotionLibrary | None = None
    ):
        self.settings = settings
        self.database = database
        self.library = library
        self.motions = MotionLibrary.load() if motions is None else motions  # pose sequences for video avatars

    def pose(self, user: User | None, pose_id: str) -> PoseTemplate:
        """A library template, or one of this person's own custom poses (none for a signed-out visitor)."""
        if user is None or not str(pose_id).startswith(CUSTOM_PREFIX):
            return self.library.get(pose_id)
        return self.pose_of(user.stored_id, pose_id)

    def pose_of(self, user_id: int, pose_id: str) -> PoseTemplate:
        """What a generation of this user's was asked with (the worker's view)."""
        if not str(pose_id).startswith(CUSTOM_PREFIX):
            return self.library.get(pose_id)
        with transaction(self.database) as session:
            row = _custom_pose(session, user_id=user_id, pose_id=pose_id)
        if row is None:
            raise UnknownPose(f"Unknown pose {pose_id!r}. Pick a pose from the gallery.")
        return _template(row)

    def facets(self) -> dict[str, list[str]]:
        return self.library.facets()

    def variants(self, base_pose: str) -> list[PoseTemplate]:
        """The library's other views and framings of a base pose."""
        return self.library.variants(base_pose)

    def grouped_record(self, template: PoseTemplate) -> dict:
        return self.library.grouped_record(template)

    def mine(self, user: User | None) -> list[PoseTemplate]:
        """A person's own custom poses, newest first (none for a signed-out visitor)."""
        if user is None:
            return []
        with transaction(self.database) as session:
            return [_template(row) for row in _custom_poses(session, user_id=user.stored_id)]

    def query(self, user: User | None, **filters) -> tuple[list[PoseTemplate], int]:
        """The library filtered and paged, this person's custom poses first (none for a signed-out visitor)."""
        return self.library.query(include=self.mine(user), **filters)

    def extract(self, user: User, *, photo: str | Path | None, name: str | None = None) -> PoseTemplate:
        """Find the person's pose in a reference photo and keep it as their private template."""
        from avatargen.poses.extract import detect_pose

        if photo is None:
            raise UserError("Upload a reference photo of a person in the pose you want.")
        with transaction(self.database) as session:  # before the costly detection; checked again when saving
            self._check_room(session, user)
        with photo_work():
            image = load_photo(
                photo, max_bytes=self.settings.max_upload_bytes, max_pixels=self.settings.max_upload_pixels
            )
            found = detect_pose(image)
        label = f"{found.view.replace('-', ' ')}, {found.framing.replace('-', ' ')}"
        row = CustomPose(
            user_id=user.stored_id,
            name=(name or "").strip()[:MAX_NAME] or f"My pose ({label})",
            view=found.view,
            framing=found.framing,
            keypoints=[list(point) for point in found.keypoints],
        )
        with transaction(self.database) as session:
            lock_user(session, user.stored_id)  # concurrent saves count one at a time
            self._check_room(session, user)
            session.add(row)
        return _template(row)

    def _check_room(self, session: Session, user: User) -> None:
        most = self.settings.max_custom_poses
        if _count_custom_poses(session, user_id=user.stored_id) >= most:
            raise UserError(f"You have {most} saved poses, the most one person can keep; delete one to save another.")

    def delete(self, user: User, pose_id: str) -> None:
        with transaction(self.database) as session:
            row = _custom_pose(session, user_id=user.stored_id, pose_id=str(pose_id))
            if row is None:
                raise NotFound("Pose not found.")
            if _in_use(session, user_id=user.stored_id, pose_id=row.id):
                raise UserError(
                    "A generation waiting in the queue uses this pose; delete the pose once it has finished."
                )
            session.delete(row)


def _template(row: CustomPose) -> PoseTemplate:
    return PoseTemplate(
        id=row.id,
        name=row.name,
        category="custom",
        gender="unisex",
        view=row.view,
        framing=row.framing,
        tags=("custom", "my pose"),
        keypoints=tuple(tuple(point) for point in row.keypoints),
        owner=row.user_id,
    )
