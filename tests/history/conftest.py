"""The snapshot store of each kind a user can give: a local directory and S3."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.support.s3server import BUCKET


@pytest.fixture(params=["directory", "s3"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store root: a local directory, or a prefix on moto's S3."""
    if request.param == "directory":
        return str(tmp_path / "store")
    request.getfixturevalue("s3_endpoint")
    return f"s3://{BUCKET}/{uuid.uuid4().hex}/store"
