"""The zero-downtime matrix's column: Caddy resolving the name per request.

The proxy: tests/zdt_app/proxy/caddy.conf. The rows: tests/support/zdt_matrix.py.
One module per column, so that the columns run on different test workers (`--dist loadfile`).
"""

import pytest
import redis

from config import Settings
from tests.support.zdt_bed import ProxyBed
from tests.support.zdt_matrix import MatrixRows, crashed_after_swap

pytestmark = pytest.mark.docker


class TestCaddy(MatrixRows):
    proxy = "caddy"

    def test_release_crashing_after_the_swap_fails_the_health_stage_at_once(
        self, bed: ProxyBed, settings: Settings, redis_conn: redis.Redis
    ) -> None:
        """Passes the swap, crashes on the health URL: reverted at the crash, not at the timeout
        (one column: the health stage reads Docker, whatever the proxy)."""
        crashed_after_swap(bed, settings, redis_conn)
