"""avatargen: build the Gradio app and launch it (the Space's app_file).

`python app.py [--host …] [--help]` is `python -m avatargen serve`.
"""

import sys

if __name__ == "__main__":  # the command line first, so `--help` and a settings error answer before heavy imports
    from avatargen.__main__ import main

    sys.exit(main(["serve", *sys.argv[1:]]))

from avatargen.settings import use_space_storage

use_space_storage()  # before huggingface_hub is imported (through gradio): it reads HF_HOME once

import secrets  # noqa: E402

import gradio as gr  # noqa: E402
import gradio.oauth  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.routing import BaseRoute  # noqa: E402

from avatargen.accounts.signin import ClientAddress, SignInGuard  # noqa: E402
from avatargen.engine.zerogpu import zero_gpu  # noqa: E402
from avatargen.runtime import Runtime, build_runtime  # noqa: E402
from avatargen.settings import Settings, missing_space_oauth  # noqa: E402
from avatargen.ui import CSS, create_demo  # noqa: E402
from avatargen.web.api import Api, register_api  # noqa: E402
from avatargen.web.routes import beside_gradio  # noqa: E402

PLACEHOLDER_NOTICE = (
    "⚠️ **Placeholder mode.** The real image models could not be loaded on this machine, so outputs come "
    "from a tiny random-weight model: they will not look like you. Generations are free meanwhile."
)
TINY_NOTICE = (
    "⚠️ **Placeholder mode.** This app runs the tiny random-weight test model (`AVATARGEN_ENGINE=tiny`): outputs "
    "will not look like you. Credits and history work as usual."
)


def engine_notice(runtime: Runtime) -> str | None:
    if runtime.settings.worker_threads == 0:
        return None
    if runtime.engine.error:
        return f"⚠️ The generation model failed to load ({runtime.engine.error}); generations will fail and be refunded."
    engine = runtime.engine.loaded
    if engine is None:
        return "⏳ Loading the generation model… you can queue generations meanwhile."
    if not engine.placeholder:
        return None
    return PLACEHOLDER_NOTICE if runtime.settings.engine == "auto" else TINY_NOTICE


def engine_settled(runtime: Runtime) -> bool:
    """Whether `engine_notice` can no longer change: no workers here, or the engine loaded (a failed load is tried
    again by the next job)."""
    return runtime.settings.worker_threads == 0 or runtime.engine.loaded is not None


def build_api(runtime: Runtime) -> Api:
    return Api(
        runtime.services,
        thumbnails=runtime.settings.cache_dir / "thumbnails",
        run_inline=runtime.run_queued if zero_gpu() else None,
    )


def create_app(runtime: Runtime, api: Api) -> gr.Blocks:
    """The page, and the named API endpoints next to it."""
    demo = create_demo(
        api,
        engine_notice=lambda: engine_notice(runtime),
        engine_settled=lambda: engine_settled(runtime),
        sign_in=runtime.settings.auth == "hf",
    )
    with demo:
        register_api(api)
    return demo


def seal_development_sessions() -> None:
    """Off a Space (hf on loopback, for development) Gradio signs its session cookie with a key derived from an
    empty secret, which anybody can compute and sign any name with: give it a secret only this process knows."""
    if missing_space_oauth() and not gradio.oauth.OAUTH_CLIENT_SECRET:
        gradio.oauth.OAUTH_CLIENT_SECRET = secrets.token_urlsafe(32)


def launch(settings: Settings, **launch_options) -> tuple[Runtime, gr.Blocks]:
    """Serve, then start the workers and warm the engine: a start that fails (its port taken) claims no job.
    Returns once serving when prevent_thread_lock is set."""
    runtime = build_runtime(settings)
    if settings.auth == "none":
        runtime.services.users.user_for(None)  # the one local user exists before the page's first requests race for it
    api = build_api(runtime)
    demo = create_app(runtime, api)
    middleware = [Middleware(ClientAddress)]
    if settings.auth == "hf":
        seal_development_sessions()
    guard = SignInGuard(runtime.services.users.authenticate, redis_url=settings.queue_location)
    auth = guard.sign_in if settings.auth == "password" else None
    block = not launch_options.pop("prevent_thread_lock", False)
    try:
        serve(demo, settings, auth=auth, middleware=middleware, routes=beside_gradio(api), **launch_options)
    except BaseException:
        runtime.close()
        raise
    runtime.start_workers(0 if zero_gpu() else None)  # on ZeroGPU each request runs its own job
    if settings.worker_threads:
        runtime.warm_up()
    if block:
        demo.block_thread()
    return runtime, demo


def serve(
    demo: gr.Blocks,
    settings: Settings,
    *,
    auth,
    middleware: list[Middleware],
    routes: list[BaseRoute],
    **launch_options,
) -> None:
    """Bind the port and serve the page, its API and `routes` (matched before Gradio's), without blocking."""
    demo.queue(default_concurrency_limit=8).launch(
        server_name=f"[{settings.host}]" if ":" in settings.host else settings.host,  # Gradio's form for IPv6
        server_port=settings.port,
        share=settings.share,
        auth=auth,
        auth_message="Sign in with the account your administrator created for you. "
        "After several wrong passwords, sign-in pauses for a while.",
        allowed_paths=[str(settings.cache_dir / "thumbnails")],
        max_file_size=settings.max_upload_bytes,
        show_error=True,  # a message for every error Gradio itself raises (handlers already give their own)
        app_kwargs={"middleware": middleware, "routes": routes},
        css=CSS,
        prevent_thread_lock=True,
        **launch_options,
    )
