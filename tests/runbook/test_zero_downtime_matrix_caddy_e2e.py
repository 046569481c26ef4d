"""The zero-downtime matrix's column: Caddy resolving the name per request.

The proxy: tests/zdt_app/proxy/caddy.conf. The rows: tests/support/zdt_matrix.py.
One module per column, so that the columns run on different test workers (`--dist loadfile`).
This column also proves that a revert takes back an old container that is still draining.
"""

import pytest
import redis

from config import Settings
from jobs.state.records import DeployStore
from tests.support.deploying import config_for, deploy
from tests.support.zdt_bed import Clients, ProxyBed
from tests.support.zdt_matrix import MatrixRows

pytestmark = pytest.mark.docker


class TestCaddy(MatrixRows):
    proxy = "caddy"

    def test_revert_while_the_old_container_drains_takes_that_container_back(
        self,
        bed: ProxyBed,
        tmp_path_factory: pytest.TempPathFactory,
        redis_url: str,
        redis_conn: redis.Redis,
    ) -> None:
        """Health fails while the old container drains: the revert puts it back, 0 failed."""
        environment = bed.environment_config()
        environment["health"] = {**environment["health"], "timeout": 4}
        environment["zero_downtime_drain"] = 25  # longer than the health stage's 4 s
        state = tmp_path_factory.mktemp("state")
        settings = Settings.model_validate(config_for(environment, state, redis_url))
        before, serving = bed.version(), bed.api_containers()
        sha = bed.release(f"fails-draining-{bed.proxy.name}", "fails_after")
        with Clients(bed.port) as clients:
            record = deploy(settings, redis_conn, sha)
        assert record.state == "reverted" and record.failed_stage == "health", record.error
        assert clients.failed() == [], [vars(a) for a in clients.failed()[:5]]
        assert bed.api_containers() == serving, "expected the draining container back"
        assert bed.version() == before and clients.answers[-1].version == before
        log = DeployStore(redis_conn).log(record.id)
        assert any("taking back" in line for line in log), log[-20:]
