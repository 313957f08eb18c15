"""Errors a person can cause: their message is shown to them as it is."""


class UserError(Exception):
    """A request the app refuses; nothing is charged and nothing is recorded."""


class InvalidPhoto(UserError):
    """The uploaded file is not an image the app accepts."""


class UnknownPose(UserError):
    """The pose id names no template this person may use."""


class NotFound(UserError):
    """The record does not exist, or belongs to someone else (the two look the same)."""


class InsufficientCredits(UserError):
    """The person's balance does not cover the price."""


class NoPersonFound(UserError):
    """A reference photo for a custom pose shows no person the pose detector can find."""


class NoFaceFound(UserError):
    """No face could be found in the uploaded photo, so the avatar could not look like its owner."""


class FaceTooSmall(UserError):
    """The face in the uploaded photo is too small to carry the person's identity."""


class UnknownMotion(UserError):
    """The motion id names no motion of the library."""
