"""Command line: `python -m avatargen worker | status | user add | user webhook | credits grant`."""

import argparse
import getpass
import json
import logging
import signal
import sys
import threading

from avatargen.settings import get_settings, use_space_storage

use_space_storage()  # before huggingface_hub is imported: it reads HF_HOME once

from avatargen.db.connect import transaction  # noqa: E402
from avatargen.errors import UserError  # noqa: E402
from avatargen.generations.health import render, status  # noqa: E402
from avatargen.generations.webhooks import check_url, set_person_webhook  # noqa: E402
from avatargen.runtime import build_runtime  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m avatargen")
    commands = parser.add_subparsers(dest="command", required=True)

    worker = commands.add_parser("worker", help="consume the generation queue (run one per GPU)")
    worker.add_argument("--threads", type=int, default=1)

    health = commands.add_parser("status", help="queue depth, workers alive, jobs per state, oldest pending job")
    health.add_argument("--json", action="store_true", help="print the report as JSON")

    user = commands.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    add = user.add_parser("add", help="create a user with the starting credits")
    add.add_argument("name")
    add.add_argument("--password", help="better left out: it is then asked for, unseen (or read from stdin)")
    add.add_argument("--admin", action="store_true")
    add.add_argument("--credits", type=int, default=None, help="starting credits (default: AVATARGEN_STARTING_CREDITS)")

    hook = user.add_parser("webhook", help="post this person's finished generations to URL (no URL: stop)")
    hook.add_argument("name")
    hook.add_argument("url", nargs="?", default="")

    credits = commands.add_parser("credits", help="manage credits").add_subparsers(dest="action", required=True)
    grant = credits.add_parser("grant", help="add (or with a negative number remove) credits")
    grant.add_argument("name")
    grant.add_argument("amount", type=int)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "status":
        report = status(get_settings())
        print(json.dumps(report, indent=2) if args.json else render(report))
        return 0
    runtime = build_runtime(get_settings())
    try:
        if args.command == "worker":
            return _work(runtime, args.threads)
        if args.command == "user" and args.action == "webhook":
            _set_webhook(runtime, args.name, args.url)
        elif args.command == "user":
            password = args.password or _ask_password()
            created = runtime.services.users.add(args.name, password=password, admin=args.admin, credits=args.credits)
            print(f"created {created.role} {created.username!r} (id {created.id})")
        elif args.command == "credits":
            services = runtime.services
            print(f"{args.name}: balance {services.ledger.grant(services.users.named(args.name), args.amount)} credits")
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        runtime.close()
    return 0


def _set_webhook(runtime, name: str, url: str) -> None:
    user = runtime.services.users.named(name)
    with transaction(runtime.services.database) as session:
        checked = check_url(url, private_ok=runtime.settings.webhook_private_ok) if url else None
        set_person_webhook(session, user_id=user.id, url=checked)
    print(f"{name}: finished generations are posted to {url}" if url else f"{name}: no webhook")
    if url and not runtime.settings.webhook_secret:
        print("note: AVATARGEN_WEBHOOK_SECRET is not set, so no webhooks are sent", file=sys.stderr)


def _ask_password() -> str:
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise UserError("The two passwords differ.")
    return password


def _work(runtime, threads: int) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    runtime.start_workers(threads)
    runtime.warm_up()
    stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
