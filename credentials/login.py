"""The one credentials record: what the vault hands out and an adapter logs in with.

Every secret stays a masked :class:`credentials.secret.Secret` until the moment
it is typed into a portal; the repr names the account and which kinds of
secret it holds, never a value.
"""

from __future__ import annotations

from dataclasses import dataclass

from credentials.secret import Secret


class NoPassword(LookupError):
    """The keyring holds no password for the account (``fleet credentials set``)."""


@dataclass(frozen=True, slots=True, repr=False)
class Login:
    """A portal login: the account name and its secrets (password always there)."""

    portal: str
    username: str
    password: Secret
    totp_secret: Secret | None = None
    security_answer: Secret | None = None
    api_key: Secret | None = None

    def __repr__(self) -> str:
        held = [
            k
            for k, v in (
                ("totp", self.totp_secret),
                ("security answer", self.security_answer),
                ("api key", self.api_key),
            )
            if v is not None
        ]
        return (
            f"Login(portal={self.portal!r}, username={self.username!r}, "
            f"secrets=masked: password{''.join(', ' + h for h in held)})"
        )


__all__ = ["Login", "NoPassword"]
