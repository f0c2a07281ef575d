"""Cloud credentials: where they come from, and how they are kept out of sight (imports only precheck.frozen)."""

from __future__ import annotations

from typing import Any

from ..frozen import Frozen


class Credentials(Frozen):
    """An AccessKey pair, with the STS token when the keys are temporary. Never printed.

    A plain class that behaves as the frozen dataclass it was (the same constructor, `==` and hash over the three
    fields, the repr showing the key id alone, FrozenInstanceError on assignment): every function imports it
    through the settings, and generating a dataclass's methods cost each cold start ~0.4 ms."""

    access_key_id: str
    access_key_secret: str
    security_token: str | None

    def __init__(self, access_key_id: str, access_key_secret: str, security_token: str | None = None):
        self._init(access_key_id=access_key_id, access_key_secret=access_key_secret, security_token=security_token)

    def _key(self) -> tuple:
        return (self.access_key_id, self.access_key_secret, self.security_token)

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}(access_key_id={self.access_key_id!r})"

    @classmethod
    def from_context(cls, context: Any) -> Credentials | None:
        """The function's STS credentials from FC's context; None when the context carries none (locally)."""
        creds = getattr(context, "credentials", None)
        key_id = getattr(creds, "access_key_id", None) or getattr(creds, "accessKeyId", None)
        if not key_id:
            return None
        return cls(key_id,
                   getattr(creds, "access_key_secret", None) or getattr(creds, "accessKeySecret", None) or "",
                   getattr(creds, "security_token", None) or getattr(creds, "securityToken", None))
