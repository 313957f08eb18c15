"""The services one process runs on, composed by `runtime.build_runtime`: what endpoints and the CLI call."""

from dataclasses import dataclass

from sqlalchemy import Engine

from avatargen.accounts.api_keys import ApiKeys
from avatargen.accounts.users import Users
from avatargen.credits.ledger import Ledger
from avatargen.generations.jobs import Jobs
from avatargen.generations.pose_book import PoseBook
from avatargen.generations.service import Generations
from avatargen.generations.sharing import Sharing
from avatargen.settings import Settings
from avatargen.storage.store import Storage


@dataclass(frozen=True)
class Services:
    """What the endpoint layer and the command line call; each service owns its transactions."""

    settings: Settings
    database: Engine
    storage: Storage
    users: Users
    api_keys: ApiKeys  # the REST API's bearer keys
    ledger: Ledger
    poses: PoseBook
    generations: Generations
    jobs: Jobs
    sharing: Sharing  # public links to outputs
