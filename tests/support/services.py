"""Find the local services started by deploy/services.sh; skip (or fail under CI=true) when absent."""
from __future__ import annotations

import os

import pytest

ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(variable: str, what: str) -> str:
    """The URL in `variable`; without it the test is skipped locally and fails under CI."""
    value = os.environ.get(variable)
    if not value:
        message = f"{what} is not configured ({variable} unset); run through `make test`"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)  # only outside CI: under CI=true the missing service failed the test above
    return value
