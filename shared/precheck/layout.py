"""The functions of the service and how they are wired, in one place (the deploy descriptors agree)."""

from __future__ import annotations

from typing import Optional

from .checks import all_items, function_name

SERVICE = "sqlserver-backup-precheck"
START = "start_precheck"
COLLECT = "collect_outcome"
LAST_RESULT = "get_last_result"


def check_functions() -> list[str]:
    return [function_name(item.name) for item in all_items()]


def all_functions() -> list[str]:
    return [START, COLLECT, LAST_RESULT, *check_functions()]


def destination_of(function: str) -> Optional[str]:
    """Where FC's async destinations (onSuccess and onFailure alike) send a function's outcome."""
    return COLLECT if function.startswith("check_") else None


#: The HTTP API in front of the functions: API Gateway in the cloud, `precheck serve` locally.
ROUTES = [
    ("POST", "/instances", START),
    ("POST", "/instances/{instance_id}/prechecks", START),
    ("GET", "/instances/{instance_id}/prechecks/latest", LAST_RESULT),
]
