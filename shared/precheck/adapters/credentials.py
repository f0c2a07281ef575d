"""Cloud credentials: where they come from, and how they are kept out of sight (imports nothing of ours)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Credentials:
    """An AccessKey pair, with the STS token when the keys are temporary. Never printed."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)

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
