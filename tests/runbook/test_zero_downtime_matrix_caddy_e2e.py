"""The zero-downtime matrix's column: Caddy resolving the name per request.

The proxy: tests/zdt_app/proxy/caddy.conf. The rows: tests/support/zdt_matrix.py.
One module per column, so that the columns run on different test workers (`--dist loadfile`).
"""

import pytest

from tests.support.zdt_matrix import MatrixRows

pytestmark = pytest.mark.docker


class TestCaddy(MatrixRows):
    proxy = "caddy"
