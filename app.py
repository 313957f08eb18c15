"""avatargen: build the Gradio app and launch it (the Space's app_file)."""

import logging

import gradio as gr
from starlette.middleware import Middleware

from avatargen.api import Api
from avatargen.runtime import Runtime, build_runtime
from avatargen.settings import Settings, get_settings
from avatargen.signin import ClientAddress, SignInGuard
from avatargen.ui import create_demo

PLACEHOLDER_NOTICE = (
    "⚠️ **Placeholder mode.** The real image models could not be loaded on this machine, so outputs come "
    "from a tiny random-weight model: they will not look like you. Credits and history work as usual."
)


def engine_notice(runtime: Runtime) -> str | None:
    if runtime.settings.worker_threads == 0:
        return None
    if runtime.engine.error:
        return f"⚠️ The generation model failed to load ({runtime.engine.error}); generations will fail and be refunded."
    engine = runtime.engine.loaded
    if engine is None:
        return "⏳ Loading the generation model… you can queue generations meanwhile."
    return PLACEHOLDER_NOTICE if engine.placeholder else None


def create_app(runtime: Runtime) -> gr.Blocks:
    api = Api(runtime.service, thumbnails=runtime.settings.cache_dir / "thumbnails")
    return create_demo(api, engine_notice=lambda: engine_notice(runtime))


def launch(settings: Settings, **launch_options) -> tuple[Runtime, gr.Blocks]:
    """Start workers, warm the engine, and serve. Returns once serving when prevent_thread_lock is set."""
    runtime = build_runtime(settings)
    if settings.auth == "none":
        runtime.service.user_for(None)  # the one local user exists before the page's first requests race for it
    runtime.start_workers()
    if settings.worker_threads:
        runtime.warm_up()
    demo = create_app(runtime)
    auth = SignInGuard(runtime.service.authenticate).sign_in if settings.auth == "password" else None
    demo.queue(default_concurrency_limit=8).launch(
        server_name=settings.host,
        server_port=settings.port,
        share=settings.share,
        auth=auth,
        auth_message="Sign in with the account your administrator created for you. "
        "After several wrong passwords, sign-in pauses for a while.",
        allowed_paths=[str(settings.cache_dir / "thumbnails")],
        max_file_size=settings.max_upload_bytes,
        show_error=True,  # a message for every error Gradio itself raises (handlers already give their own)
        app_kwargs={"middleware": [Middleware(ClientAddress)]},
        **launch_options,
    )
    return runtime, demo


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    launch(get_settings())
