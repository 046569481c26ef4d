"""What the sign-in code needs from the app: settings, Redis, the users file, the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request

from config import Settings
from jobs.state import Connection, audit
from webhook.auth.users import Users, UsersSource

EXTENSION = "deployhook.auth"


@dataclass(frozen=True)
class AuthContext:
    settings: Settings
    connection: Connection
    source: UsersSource

    def users(self) -> Users:
        return self.source.current()

    def anyone_can_sign_in(self) -> bool:
        """False while no user, token, OIDC provider or auth proxy is configured."""
        auth = self.settings.auth
        users = self.users()
        return bool(users.users or auth.oidc or auth.trusted_header or auth.metrics.token)

    def audit(self, action: str, actor: str, **fields: str) -> None:
        """Record an audit entry for the current request."""
        entry = audit.AuditEntry(action, actor, request.remote_addr or "?", **fields)
        retention = self.settings.auth.audit
        audit.record(self.connection, entry, retention.keep_days, retention.max_entries)


def auth_context() -> AuthContext:
    found = current_app.extensions.get(EXTENSION)
    if not isinstance(found, AuthContext):
        raise RuntimeError("webhook.auth.register(app, settings, connection) was not called")
    return found
