"""A real S3-compatible server on 127.0.0.1 (moto in server mode), for store tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from moto.server import ThreadedMotoServer

BUCKET = "snapshots"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test-access-key",
    "AWS_SECRET_ACCESS_KEY": "test-secret-key-never-printed",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def s3_server() -> Iterator[str]:
    """Serve S3 on a free port, with the standard AWS variables pointing at it.

    The store is given only an s3:// URL, as the tap's setting will be: s3fs
    finds the endpoint and the keys in the environment, like any AWS client.
    """
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        with pytest.MonkeyPatch.context() as environment:
            for name, value in CREDENTIALS.items():
                environment.setenv(name, value)
            environment.setenv("AWS_ENDPOINT_URL", endpoint)
            yield endpoint
    finally:
        server.stop()
