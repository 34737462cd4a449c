"""SSE-KMS through `snapshot_store_options`: every object the tap writes carries it.

Many banks' bucket policies refuse a PutObject without `aws:kms` and a key id.
The real tap writes to the real S3 server the tests start (moto); each object
under the store's prefix is then read back with a HEAD request.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import fsspec

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.s3server import BUCKET
from tests.support.tapdriver import run_tap

KEY_ID = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SSE_KMS = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KEY_ID}


def test_every_object_written_carries_sse_kms_and_its_key(
    emulator: EmulatorAdmin, tmp_path: Path, s3_endpoint: str
) -> None:
    del s3_endpoint  # the standard AWS variables point at it
    prefix = f"{BUCKET}/{uuid.uuid4().hex}"
    emulator.configure([audience("aud_a", 40, updated_on="2026-11-20")])
    config = emulator.tap_config(
        "aud_a",
        snapshot_store=f"s3://{prefix}",
        snapshot_store_options={"s3_additional_kwargs": SSE_KMS},
    )
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr
    emulator.patch("aud_a", offset=4, size=43, updated_on="2026-11-25")
    second = run_tap(tmp_path, config, state=first.last_state)
    assert second.returncode == 0, second.stderr

    fs, _ = fsspec.core.url_to_fs(f"s3://{prefix}", skip_instance_cache=True)
    written = fs.find(prefix)
    assert len(written) == 3  # two tables and a closed segment
    for path in written:
        head = fs.call_s3("head_object", Bucket=BUCKET, Key=path.split("/", 1)[1])
        assert (head.get("ServerSideEncryption"), head.get("SSEKMSKeyId")) == (
            "aws:kms",
            KEY_ID,
        ), path
