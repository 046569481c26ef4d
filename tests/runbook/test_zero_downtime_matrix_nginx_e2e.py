"""The zero-downtime matrix's column: nginx, a resolver and a variable upstream.

The proxy: tests/zdt_app/proxy/nginx.conf. The rows: tests/support/zdt_matrix.py.
One module per column, so that the columns run on different test workers (`--dist loadfile`).
"""

import pytest

from tests.support.zdt_matrix import MatrixRows

pytestmark = pytest.mark.docker


class TestNginx(MatrixRows):
    proxy = "nginx"
