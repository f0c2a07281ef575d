"""SQL passwords: an instance names where its password lives (`env:NAME`); the value is never echoed."""

from __future__ import annotations

from collections.abc import Mapping

from ..ports import SecretError


class EnvSecretResolver:
    """Resolves `env:NAME` to NAME's value in the given environment mapping (the settings' `secret_env`)."""

    def __init__(self, environ: Mapping[str, str]):
        self._environ = environ

    def resolve(self, ref: str) -> str:
        scheme, _, name = ref.partition(":")
        if scheme != "env" or not name:
            raise SecretError("secret", f"unsupported password reference {ref.split(':', 1)[0]!r}")
        value = self._environ.get(name)
        if value is None:
            raise SecretError("secret", f"environment variable {name} is not set")
        return value
