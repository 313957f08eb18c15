"""Old template ids (history, jobs queued before an upgrade) answer their nearest current template."""

import io
import json
import subprocess

import pyarrow.parquet as pq
import pytest

from avatargen.db.connect import transaction
from avatargen.db.tables import Generation
from avatargen.poses.library import ALIASES_PATH, PoseLibrary
from tests.conftest import generate_one

FIRST_LIBRARY = ("6ea38e7", "poses/templates.parquet")  # 858 templates from 80 base poses


def first_library_ids() -> list[str]:
    commit, path = FIRST_LIBRARY
    try:
        data = subprocess.run(["git", "show", f"{commit}:{path}"], capture_output=True, check=True).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        pytest.skip("this checkout has no git history of the first library")
    return [row["id"] for row in pq.read_table(io.BytesIO(data)).to_pylist()]


def test_every_id_of_the_first_library_still_names_a_template(library):
    ids = first_library_ids()
    assert len(ids) == 858
    bare = PoseLibrary(list(library))  # without the alias map most of them are gone
    assert sum(pose_id not in bare for pose_id in ids) > 800
    assert all(pose_id in library for pose_id in ids)
    aliases = json.loads(ALIASES_PATH.read_text())
    assert all(new in bare for new in aliases.values())
    assert library.get("stand-relaxed-m-front-full").id == "stand-relaxed-f-front-full"  # same base pose and view


def test_a_job_queued_before_the_upgrade_runs_and_history_makes_it_again(runtime, services, photo, pose_id):
    user = services.users.add("veteran", password="password")
    queued = generate_one(services, user, photo=photo, pose_id=pose_id)
    with transaction(services.database) as session:  # as the previous release left it
        session.get(Generation, queued.id).pose_template_id = "stand-relaxed-m-front-full"
    assert runtime.queue.run_next()
    done = services.generations.get(user, queued.id)
    assert done.status == "completed" and done.pose_template_id == "stand-relaxed-m-front-full"  # history keeps its id
    again = generate_one(services, user, photo=photo, pose_id=done.pose_template_id)  # "again" from history
    assert again.pose_template_id == "stand-relaxed-f-front-full"
