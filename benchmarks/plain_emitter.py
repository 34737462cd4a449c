"""The limit: a plain Python emitter of the same RECORD lines, or a raw download.

`emit`: download the body to a temporary file, then splice the raw id bytes
into a per-audience RECORD template with `bytes.replace` and write large
blocks; no validation, no fingerprint, no SDK. `download`: only the download,
as the tap does it (requests, 1 MiB chunks, temporary file). Both print
`emit_seconds=`/`records=` on stderr for the benchmark driver.

Usage: plain_emitter.py {emit,download} API_URL AUDIENCE INSTITUTION {json,csv}
"""

from __future__ import annotations

import datetime
import json
import sys
import tempfile
import time
from typing import IO

import requests

CREDENTIALS = {"client_id": "bench", "client_secret": "bench-secret"}
BLOCK_BYTES = 1 << 18


def download(api_url: str, audience: str, institution: str, fmt: str) -> IO[bytes]:
    """The list body in an anonymous temporary file."""
    token = requests.post(f"{api_url}/api/token", json=CREDENTIALS, timeout=60)
    token.raise_for_status()
    accept = "text/csv" if fmt == "csv" else "application/json"
    body = tempfile.TemporaryFile()  # noqa: SIM115 - returned to the caller
    with requests.get(
        f"{api_url}/api/v1/audience/{audience}/list",
        params={"institution_public_id": institution},
        headers={
            "Authorization": f"Bearer {token.json()['access_token']}",
            "Accept": accept,
        },
        stream=True,
        timeout=60,
    ) as response:
        response.raise_for_status()
        for chunk in response.iter_content(1 << 20):
            body.write(chunk)
    body.seek(0)
    return body


def emit(body: IO[bytes], audience: str, institution: str, fmt: str) -> int:
    """Write one RECORD line per member to stdout; return how many."""
    record = {
        "audience_id": audience,
        "id_or_slug": audience,
        "institution_id": institution,
        "institution_public_id": institution,
        "member_id": "\x00",
        "updated_on": "2026-11-20",
    }
    line = json.dumps(
        {
            "type": "RECORD",
            "stream": "audience_members",
            "record": record,
            "time_extracted": datetime.datetime.now(datetime.UTC).isoformat(),
        },
        separators=(",", ":"),
    )
    prefix, suffix = (half.encode() for half in line.split("\\u0000"))
    if fmt == "csv":
        body.readline()  # the header
        delimiter, trim = b"\r\n", 0
    else:
        head = body.read(1 << 16)
        body.seek(head.index(b'"list":[') + len(b'"list":["'))
        delimiter, trim = b'","', 1
    between = suffix + prefix
    out = sys.stdout.buffer
    written = 0
    carry = b""
    while block := body.read(BLOCK_BYTES):
        buffer = carry + block
        cut = buffer.rfind(delimiter)
        carry = buffer[cut + len(delimiter) :]
        ids = buffer[:cut]
        written += ids.count(delimiter) + 1
        out.write(prefix)
        out.write(ids.replace(delimiter, between))
        out.write(suffix)
    last = carry.split(b"]", 1)[0][:-trim] if trim else carry
    if last:
        out.write(prefix + last + suffix)
        written += 1
    out.flush()
    return written


def main() -> None:
    """Run one measurement and report it on stderr."""
    mode, api_url, audience, institution, fmt = sys.argv[1:6]
    body = download(api_url, audience, institution, fmt)
    started = time.perf_counter()
    records = emit(body, audience, institution, fmt) if mode == "emit" else 0
    print(f"emit_seconds={time.perf_counter() - started:.6f}", file=sys.stderr)
    print(f"records={records}", file=sys.stderr)


if __name__ == "__main__":
    main()
