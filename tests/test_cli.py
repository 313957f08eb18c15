"""The command line as a newcomer meets it: help that answers without serving, settings errors without a
traceback, IPv6 loopback, a quiet start, Ctrl-C that ends the process cleanly and hands its job on."""

import argparse
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from avatargen.__main__ import _parser
from avatargen.db.tables import Generation, Status
from avatargen.settings import Settings
from tests.conftest import FakeEngine, generate_one, make_runtime
from tests.helpers import free_port, wait_for

ROOT = Path(__file__).parents[1]
PATIENT_S = 120  # a guard for processes starting on a busy machine, not a measurement
STARTUP_LINE_BUDGET = 6  # what `python app.py` may print before it serves


def run(arguments: list[str], tmp_path: Path, **environment: str) -> subprocess.CompletedProcess:
    env = os.environ | {"AVATARGEN_DATA_DIR": str(tmp_path / "data")} | environment
    return subprocess.run(arguments, cwd=ROOT, env=env, capture_output=True, text=True, timeout=PATIENT_S)


def start(arguments: list[str], tmp_path: Path, **environment: str) -> subprocess.Popen:
    env = os.environ | {"AVATARGEN_DATA_DIR": str(tmp_path / "data"), "AVATARGEN_ENGINE": "tiny"} | environment
    return subprocess.Popen(arguments, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def lines_until(process: subprocess.Popen, marker: str) -> list[str]:
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError(f"the process ended (code {process.wait()}) before {marker!r}:\n" + "\n".join(lines))


def test_help_answers_without_serving_and_without_the_heavy_imports(tmp_path):
    shown = run([sys.executable, "app.py", "--help"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    for flag in ("--host", "--port", "--auth", "--engine", "--share", "AVATARGEN_DATA_DIR"):
        assert flag in shown.stdout
    assert not (tmp_path / "data").exists()  # nothing was started, not even the database

    probe = "import sys\nfrom avatargen.__main__ import main\ntry:\n    main(['serve', '--help'])\nexcept SystemExit:\n"
    probe += "    print(sorted(m for m in ('gradio', 'torch', 'diffusers', 'sqlalchemy') if m in sys.modules))"
    imported = run([sys.executable, "-c", probe], tmp_path)
    assert imported.stdout.strip().endswith("[]"), imported.stdout


def test_every_command_and_argument_says_what_it_is():
    def parsers(parser: argparse.ArgumentParser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    yield from parsers(child)

    for parser in parsers(_parser()):
        for action in parser._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{parser.prog}: {action.dest} has no help"
        assert "AVATARGEN_" in (parser.epilog or ""), f"{parser.prog} does not list the environment variables"


def test_a_settings_error_is_one_readable_paragraph(tmp_path):
    wrong_port = run([sys.executable, "app.py"], tmp_path, AVATARGEN_PORT="99999")
    assert wrong_port.returncode == 2
    assert "Traceback" not in wrong_port.stderr
    assert wrong_port.stderr.strip() == "error: AVATARGEN_PORT='99999': Input should be less than or equal to 65535."

    unsafe = run([sys.executable, "-m", "avatargen", "serve", "--host", "0.0.0.0", "--auth", "none"], tmp_path)
    assert unsafe.returncode == 2 and "Traceback" not in unsafe.stderr
    assert "AVATARGEN_AUTH=password" in unsafe.stderr and len(unsafe.stderr.strip().splitlines()) == 1


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_ipv6_loopback_serves_quietly_and_ctrl_c_ends_it_with_code_0(tmp_path):
    port = free_port()
    server = start(
        [sys.executable, "app.py", "--host", "::1", "--port", str(port), "--engine", "tiny"],
        tmp_path,
        AVATARGEN_WORKER_THREADS="0",
    )
    try:
        before = lines_until(server, "serving on")
        assert f"http://[::1]:{port}/" in before[-1]
        assert len([line for line in before if line.strip()]) <= STARTUP_LINE_BUDGET, "\n".join(before)
        assert not [line for line in before if "share=True" in line or "Retry" in line]
        assert httpx.get(f"http://[::1]:{port}/", timeout=PATIENT_S).status_code == 200
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=PATIENT_S) == 0


def test_ctrl_c_during_a_job_exits_with_code_0_and_the_next_worker_finishes_the_job(tmp_path, photo):
    settings = Settings(data_dir=tmp_path / "data", worker_threads=0, engine="tiny")  # tiny: placeholders charged
    runtime = make_runtime(settings, FakeEngine())
    services = runtime.services
    person = services.users.user_for(None)
    pose = services.poses.library.query(limit=1)[0][0].id
    generation = generate_one(services, person, photo=photo, pose_id=pose)
    charged = services.ledger.statement(person)["balance"]

    worker = start([sys.executable, "-m", "tests.slow_worker"], tmp_path, SLOW_WORKER_S="600")
    try:
        wait_for(lambda: _status(services, generation.id) == Status.processing, timeout=PATIENT_S, what="a running job")
    finally:
        worker.send_signal(signal.SIGINT)
        code = worker.wait(timeout=PATIENT_S)
    output = worker.stdout.read()
    assert code == 0, output
    assert "terminate called" not in output and "Traceback" not in output

    assert _status(services, generation.id) == Status.pending  # handed back, its interrupted run not counted
    again = start([sys.executable, "-m", "tests.slow_worker"], tmp_path, SLOW_WORKER_S="0")
    try:
        wait_for(lambda: _status(services, generation.id) == Status.completed, timeout=PATIENT_S, what="the job done")
    finally:
        again.send_signal(signal.SIGINT)
        code = again.wait(timeout=PATIENT_S)
    assert code == 0, again.stdout.read()
    assert services.ledger.statement(person)["balance"] == charged  # charged once, kept once
    with Session(services.database) as session:
        assert session.get(Generation, generation.id).attempts == 1
    runtime.close()


def _status(services, generation_id: str) -> Status:
    with Session(services.database) as session:
        return session.get(Generation, generation_id).status


def test_a_jobs_log_lines_carry_its_id(services, photo, pose_id, caplog, runtime):
    person = services.users.user_for(None)
    generation = generate_one(services, person, photo=photo, pose_id=pose_id)
    with caplog.at_level("INFO", logger="avatargen"):
        runtime.queue.run_next()
    lines = [record.getMessage() for record in caplog.records if generation.id in record.getMessage()]
    assert any("started" in line and pose_id in line and f"user {person.id}" in line for line in lines), lines
    assert any("completed in" in line for line in lines), lines
