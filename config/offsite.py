"""Where an environment's backups go off the host (restic), and how hard a failed copy stops.

The repository password is a secret like every other one, but stricter: it comes from a file
(`password_file:`) or the environment (`password: ${RESTIC_PASSWORD}`), never written in the
configuration (config/loader.py refuses a literal). Backend credentials (S3 keys, a REST
server's user) go in `env`, as the variables restic reads, from the environment or files too.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from config.secrets import Secret

# restic's repository forms: a local absolute path, or a backend prefix. rclone: and friends
# work as restic documents them; deployhook only tests what it ships tests for.
REPOSITORY_PATTERN = r"^(/[^\s]*|(sftp|s3|rest|b2|azure|gs|swift|rclone):[^\s]+)$"
Repository = Annotated[str, StringConstraints(pattern=REPOSITORY_PATTERN, max_length=1000)]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]{0,62}$")]
# restic's `-o key=value` extended options (sftp.command, s3.region, ...).
OptionName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+\.[a-z0-9.-]+$")]
# Variables restic would read for the password on its own: set through `password` instead,
# so that one source is used and it is masked in every log.
_PASSWORD_VARIABLES = frozenset({"RESTIC_PASSWORD", "RESTIC_PASSWORD_FILE"})
# A repository URL carrying credentials (rest:https://user:pass@host/) would show in argv.
_CREDENTIALS_IN_URL = re.compile(r"//[^/@\s]*:[^/@\s]+@")


class Offsite(BaseModel):
    """`backups.offsite`: a restic repository every verified backup and kept dump goes to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repository: Repository
    password: Secret
    env: dict[EnvName, Secret] = {}
    options: dict[OptionName, str] = {}
    # A copy that fails: `continue` (the default) deploys and says so in the log, the record
    # and every report; `stop` fails the deploy before anything changed.
    on_failure: Literal["continue", "stop"] = "continue"
    timeout: float = Field(default=1800, gt=0)
    # Seconds between scheduled `forget --prune` runs on the worker (retention also runs
    # after every successful deploy); none: only after deploys.
    retention_every: float | None = Field(default=None, ge=600)
    # Seconds between scheduled restore drills (`deployhook verify-backups`); none: by hand.
    drill_every: float | None = Field(default=None, ge=600)

    @field_validator("repository")
    @classmethod
    def _no_credentials(cls, value: str) -> str:
        if _CREDENTIALS_IN_URL.search(value):
            raise ValueError(
                "the repository URL carries a password, which would show in every command "
                "line: put the user and password in env (RESTIC_REST_USERNAME, "
                "RESTIC_REST_PASSWORD) instead"
            )
        return value

    @field_validator("env")
    @classmethod
    def _no_password_variables(cls, value: dict[str, Secret]) -> dict[str, Secret]:
        given = sorted(_PASSWORD_VARIABLES & set(value))
        if given:
            raise ValueError(f"{', '.join(given)}: give the repository password as password")
        return value
