"""avatargen: a photo of you, in the pose you pick. Importing this package loads no model."""

__version__ = "0.1.0"
