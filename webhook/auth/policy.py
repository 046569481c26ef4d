"""Which role each route needs: one table, read by the guard and by the routes-by-roles test.

Only the signed webhook, the health check, the sign-in routes and the stylesheet answer without
an identity. A route missing from the table needs `viewer` to read (GET, HEAD, OPTIONS) and
`admin` for anything else, so a new route is closed, never open, until someone decides.
"""

from __future__ import annotations

PUBLIC = "public"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

ROUTE_ROLES: dict[str, str] = {
    # Signed by the git host (webhook/signatures.py) and asked by load balancers.
    "hooks.receive": PUBLIC,
    "api.health": PUBLIC,
    # The sign-in page must be reachable to sign in, and it needs its stylesheet.
    "auth.login": PUBLIC,
    "auth.oidc_start": PUBLIC,
    "auth.oidc_callback": PUBLIC,
    "auth.logout": PUBLIC,
    "status_assets.static": PUBLIC,
    # Operator actions.
    "status_actions.deploy": "deployer",
    "status_actions.rollback": "deployer",
    "status_actions.lock": "deployer",
    "status_actions.unlock": "deployer",
    # Who did what, from where: for admins.
    "auth.audit_page": "admin",
    "auth.audit_export": "admin",
}


def needed_role(endpoint: str, method: str) -> str:
    """The role `endpoint` needs for `method`; PUBLIC when none."""
    if endpoint in ROUTE_ROLES:
        return ROUTE_ROLES[endpoint]
    return "viewer" if method in READ_METHODS else "admin"
