"""Cloud credentials and SQL passwords: where they come from, and how they are kept out of sight."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional

from ..ports import SecretError


@dataclass(frozen=True)
class Credentials:
    """STS credentials of the function (from the FC context), or keys from the environment locally."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: Optional[str] = field(default=None, repr=False)

    @classmethod
    def from_context(cls, context: Any) -> Optional["Credentials"]:
        creds = getattr(context, "credentials", None)
        key_id = getattr(creds, "access_key_id", None) or getattr(creds, "accessKeyId", None)
        if key_id:
            return cls(key_id,
                       getattr(creds, "access_key_secret", None) or getattr(creds, "accessKeySecret", ""),
                       getattr(creds, "security_token", None) or getattr(creds, "securityToken", None))
        return cls.from_env()

    @classmethod
    def from_env(cls) -> Optional["Credentials"]:
        key_id = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID")
        secret = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        if key_id and secret:
            return cls(key_id, secret, os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN"))
        return None


class EnvSecretResolver:
    """Resolves `env:NAME` to the value of environment variable NAME; the value is never echoed."""

    def __init__(self, environ: Optional[dict] = None):
        self._environ = os.environ if environ is None else environ

    def resolve(self, ref: str) -> str:
        scheme, _, name = ref.partition(":")
        if scheme != "env" or not name:
            raise SecretError("secret", f"unsupported password reference {ref.split(':', 1)[0]!r}")
        value = self._environ.get(name)
        if value is None:
            raise SecretError("secret", f"environment variable {name} is not set")
        return value
