"""Command line: `python -m avatargen serve | worker | status | user add | user webhook | user key | user keys |
user revoke-key | credits grant`.

Building the parser imports nothing heavy, so `--help` answers at once; each command imports what it needs.
"""

import argparse
import getpass
import json
import logging
import os
import signal
import sys
import textwrap
import threading
import warnings

from pydantic import ValidationError

from avatargen.errors import UserError
from avatargen.settings import ENV_PREFIX, Settings, get_settings, settings_problem, use_space_storage

log = logging.getLogger("avatargen")
STOP_GRACE_SECONDS = 3  # a stop waits this long for running jobs; the rest are recovered (see Recovery)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Read by the model libraries when they are imported (later, by the commands that need them).
LIBRARY_QUIET = {
    "DIFFUSERS_VERBOSITY": "error",
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # transformers' and the hub's bars
    "TF_CPP_MIN_LOG_LEVEL": "2",  # mediapipe's TFLite start-up lines
    "GLOG_minloglevel": "2",
}

# Settings the `serve` flags stand for (a flag wins over its environment variable).
SERVE_FLAGS = {
    "host": "address to listen on (loopback unless signing people in)",
    "port": "port to listen on",
    "auth": "who may use it: none (one local user), password or hf (sign in with Hugging Face)",
    "engine": "auto (the real models, a placeholder if they cannot load), diffusers or tiny (test model)",
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ValidationError as error:
        print(f"error: {settings_problem(error)}", file=sys.stderr)
        return 2
    configure_logging(settings)
    use_space_storage()  # before huggingface_hub is imported: it reads HF_HOME once
    try:
        return args.run(settings, args)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def configure_logging(settings: Settings) -> None:
    """Our lines at the chosen level; the libraries' only when they warn, and without progress bars."""
    for name, value in LIBRARY_QUIET.items():
        os.environ.setdefault(name, value)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if settings.log_json else logging.Formatter(LOG_FORMAT))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.captureWarnings(True)  # a library's warning as one log line, not two with its source line
    warnings.filterwarnings("ignore", message=r"The `local_dir_use_symlinks` argument is deprecated")  # inside hub
    logging.getLogger("avatargen").setLevel(settings.log_level.upper())


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m avatargen",
        description="avatargen: the page, its queue workers and its administration.",
        epilog=_environment_help(),
        formatter_class=_HELP_FORMAT,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = _command(commands, "serve", _serve, "serve the page and its API (what `python app.py` does)")
    for name, text in SERVE_FLAGS.items():
        kind = int if name == "port" else str
        serve.add_argument(f"--{name}", type=kind, help=f"{text} [{ENV_PREFIX}{name.upper()}]")
    serve.add_argument("--share", action="store_true", default=None, help=f"a gradio.live link [{ENV_PREFIX}SHARE]")

    worker = _command(commands, "worker", _work, "consume the generation queue (run one per GPU)")
    worker.add_argument("--threads", type=int, default=1, help="jobs this worker runs at once (default 1)")

    health = _command(commands, "status", _status, "queue depth, workers alive, jobs per state, oldest pending job")
    health.add_argument("--json", action="store_true", help="print the report as JSON")

    user = _group(commands, "user", "manage users")
    add = _command(user, "add", _add_user, "create a user with the starting credits")
    add.add_argument("name", help="the name they sign in with")
    add.add_argument("--password", help="better left out: it is then asked for, unseen (or read from stdin)")
    add.add_argument("--admin", action="store_true", help="an administrator (no limits of the user tier)")
    add.add_argument("--credits", type=int, default=None, help=f"starting credits [{ENV_PREFIX}STARTING_CREDITS]")

    hook = _command(user, "webhook", _set_webhook, "post this person's finished generations to URL (no URL: stop)")
    hook.add_argument("name", help="the user's name")
    hook.add_argument("url", nargs="?", default="", help="an http(s) URL; signed with AVATARGEN_WEBHOOK_SECRET")

    key = _command(user, "key", _api_keys, "make an API key for the REST API (printed once: store it now)")
    key.add_argument("name", help="the user the key signs in")
    key.add_argument("--label", default="api key", help="what to call the key, e.g. laptop or ci (default: api key)")
    keys = _command(user, "keys", _api_keys, "list a user's API keys (id, label, first characters, last use)")
    keys.add_argument("name", help="the user's name")
    revoke = _command(user, "revoke-key", _api_keys, "revoke one of a user's API keys for good (see `user keys`)")
    revoke.add_argument("name", help="the user's name")
    revoke.add_argument("id", type=int, help="the key's id, as `user keys` lists it")

    credits = _group(commands, "credits", "manage credits")
    grant = _command(credits, "grant", _grant, "add (or with a negative number remove) credits")
    grant.add_argument("name", help="the user's name")
    grant.add_argument("amount", type=int, help="credits to add; negative to remove")
    return parser


def _group(commands, name: str, text: str):
    parser = commands.add_parser(
        name, help=text, description=text, epilog=_environment_help(), formatter_class=_HELP_FORMAT
    )
    return parser.add_subparsers(dest="action", required=True, metavar="ACTION")


def _command(commands, name: str, run, text: str) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name, help=text, description=text, epilog=_environment_help(), formatter_class=_HELP_FORMAT
    )
    parser.set_defaults(run=run)
    return parser


_HELP_FORMAT = argparse.RawDescriptionHelpFormatter  # keeps the epilog's lines


def _environment_help() -> str:
    names = textwrap.fill(
        " ".join(f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields),
        width=100,
        initial_indent="  ",
        subsequent_indent="  ",
    )
    return f"Settings come from environment variables (the README's table says what each does):\n{names}"


def _settings(args) -> Settings:
    flags = {name: getattr(args, name, None) for name in (*SERVE_FLAGS, "share")}
    chosen = {name: value for name, value in flags.items() if value is not None}
    return Settings(**chosen) if chosen else get_settings()


def _serve(settings: Settings, args) -> int:
    from app import launch

    stop = _stop_on_signal()
    try:
        runtime, demo = launch(settings, prevent_thread_lock=True, quiet=True)
    except OSError as error:  # Gradio found the port taken
        raise UserError(f"port {settings.port} is taken: pick another with --port or AVATARGEN_PORT") from error
    log.info("serving on %s (Ctrl-C stops)", demo.share_url or demo.local_url)
    stop.wait()
    log.info("stopping: a job still running in %.0f s is resumed by the next worker to start", STOP_GRACE_SECONDS)
    demo.close()
    runtime.close(grace=STOP_GRACE_SECONDS)
    return _exit_now()


def _status(settings: Settings, args) -> int:
    from avatargen.generations.health import render, status

    report = status(settings)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


def _with_runtime(work):
    """Run `work(runtime, args)` on a runtime built from the settings, closed afterwards."""

    def run(settings: Settings, args) -> int:
        from avatargen.runtime import build_runtime

        runtime = build_runtime(settings)
        try:
            return work(runtime, args) or 0
        finally:
            runtime.close()

    return run


@_with_runtime
def _add_user(runtime, args) -> None:
    password = args.password or _ask_password()
    created = runtime.services.users.add(args.name, password=password, admin=args.admin, credits=args.credits)
    print(f"created {created.role} {created.username!r} (id {created.id})")


@_with_runtime
def _grant(runtime, args) -> None:
    services = runtime.services
    print(f"{args.name}: balance {services.ledger.grant(services.users.named(args.name), args.amount)} credits")


@_with_runtime
def _set_webhook(runtime, args) -> None:
    from avatargen.db.connect import transaction
    from avatargen.generations.webhooks import check_url, set_person_webhook

    user = runtime.services.users.named(args.name)
    with transaction(runtime.services.database) as session:
        checked = check_url(args.url, private_ok=runtime.settings.webhook_private_ok) if args.url else None
        set_person_webhook(session, user_id=user.id, url=checked)
    print(f"{args.name}: finished generations are posted to {args.url}" if args.url else f"{args.name}: no webhook")
    if args.url and not runtime.settings.webhook_secret:
        print("note: AVATARGEN_WEBHOOK_SECRET is not set, so no webhooks are sent", file=sys.stderr)


@_with_runtime
def _api_keys(runtime, args) -> None:
    from avatargen.db.tables import iso

    services = runtime.services
    owner = services.users.named(args.name)
    if args.action == "key":
        record, key = services.api_keys.create(owner, args.label)
        print(key)  # alone on stdout, so `KEY=$(python -m avatargen user key alice)` captures it
        print(f"API key {record.id} {record.name!r} for {owner.username!r}: shown once, store it now", file=sys.stderr)
    elif args.action == "revoke-key":
        record = services.api_keys.revoke(owner, args.id)
        print(f"API key {record.id} {record.name!r} of {owner.username!r} is revoked")
    else:
        for record in services.api_keys.of(owner):
            used = f"last used {iso(record.last_used_at)}" if record.last_used_at else "never used"
            revoked = f", revoked {iso(record.revoked_at)}" if record.revoked_at else ""
            print(f"{record.id}\t{record.name}\t{record.prefix}…\tmade {iso(record.created_at)}, {used}{revoked}")


def _ask_password() -> str:
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise UserError("The two passwords differ.")
    return password


def _work(settings: Settings, args) -> int:
    from avatargen.runtime import build_runtime

    stop = _stop_on_signal()
    runtime = build_runtime(settings)
    runtime.start_workers(args.threads)
    runtime.warm_up()
    stop.wait()
    log.info("stopping: a job still running in %.0f s is resumed by the next worker to start", STOP_GRACE_SECONDS)
    runtime.close(grace=STOP_GRACE_SECONDS)
    return _exit_now()


def _stop_on_signal() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _exit_now() -> int:
    """Leave without running native destructors: the model libraries' own threads (torch, mediapipe) can abort an
    interpreter that finalises while they still run ("terminate called without an active exception"). Everything
    of ours is closed and the job rows are in the database by now."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
