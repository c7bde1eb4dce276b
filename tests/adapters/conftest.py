"""The adapters' tests read log events with structlog.testing.capture_logs, which needs structlog unfiltered:
an app built by an earlier test (create_app configures logging at the settings' level) must not hide them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _unfiltered_structlog() -> Iterator[None]:
    structlog.reset_defaults()
    yield
