"""Quality presets (output size and sampling) and style presets (prompts)."""

from dataclasses import dataclass

# Fast mode (LCM-LoRA): few steps, and guidance 1 (no classifier-free guidance: one UNet pass per step instead of
# two, negative prompts unused), as the LCM-LoRA authors recommend guidance between 1 and 2.
FAST_STEPS = 6
FAST_GUIDANCE_SCALE = 1.0


@dataclass(frozen=True)
class Quality:
    width: int  # output width in pixels
    height: int  # output height in pixels
    steps: int  # denoising steps
    guidance_scale: float  # classifier-free guidance
    fast_steps: int = FAST_STEPS  # denoising steps in fast mode (the engine picks the mode)
    fast_guidance_scale: float = FAST_GUIDANCE_SCALE  # guidance in fast mode


QUALITIES: dict[str, Quality] = {
    "sd": Quality(width=512, height=768, steps=25, guidance_scale=7.0),
    "hd": Quality(width=768, height=1152, steps=30, guidance_scale=7.0),
}

# Video avatars: smaller frames than images (every frame of a clip is denoised at once), 16 frames at 8 fps by default
VIDEO_QUALITIES: dict[str, Quality] = {
    "sd": Quality(width=384, height=576, steps=20, guidance_scale=7.0),
    "hd": Quality(width=512, height=768, steps=25, guidance_scale=7.0),
}
VIDEO_FRAMES = 16
VIDEO_FPS = 8


@dataclass(frozen=True)
class Style:
    label: str  # shown to people
    prompt: str  # appended to the subject description
    negative_prompt: str


_NEGATIVE = "lowres, blurry, deformed, extra limbs, bad anatomy, bad hands, watermark, text"

STYLES: dict[str, Style] = {
    "realistic": Style(
        "Realistic photo",
        "photo of a person, natural light, sharp focus, detailed skin, 50mm",
        _NEGATIVE + ", cartoon, painting, illustration",
    ),
    "studio": Style(
        "Studio portrait",
        "studio portrait of a person, softbox lighting, seamless grey backdrop, professional photography",
        _NEGATIVE + ", cartoon, painting",
    ),
    "editorial": Style(
        "Fashion editorial",
        "fashion editorial photo of a person, magazine cover look, dramatic lighting, high fashion",
        _NEGATIVE + ", cartoon",
    ),
    "cartoon": Style(
        "Cartoon",
        "cartoon illustration of a person, bold outlines, flat colours, playful",
        _NEGATIVE + ", photo, realistic",
    ),
    "anime": Style(
        "Anime",
        "anime illustration of a person, cel shading, clean lineart, vibrant",
        _NEGATIVE + ", photo, realistic",
    ),
    "3d": Style(
        "3D render",
        "3d render of a person, stylised character, subsurface scattering, octane render",
        _NEGATIVE + ", photo, flat",
    ),
    "watercolor": Style(
        "Watercolor",
        "watercolor painting of a person, soft washes, paper texture",
        _NEGATIVE + ", photo",
    ),
    "oil": Style(
        "Oil painting",
        "oil painting of a person, visible brush strokes, classical portrait",
        _NEGATIVE + ", photo",
    ),
}
