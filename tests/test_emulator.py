"""The MX audience emulator over real HTTP: bodies, tokens, faults, admin API, CLI."""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from mx_audience_emulator import (
    Audience,
    EmulatorServer,
    Fault,
    default_config,
    expected_members,
    member_id,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

INSTITUTION = "INST_DEMO"
CREDENTIALS = {"client_id": "demo-client", "client_secret": "demo-secret"}
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def running() -> Iterator[EmulatorServer]:
    with EmulatorServer(default_config()) as server:
        yield server


@pytest.fixture
def emulator(running: EmulatorServer) -> Iterator[EmulatorServer]:
    yield running
    running.state.reset()


def token(emulator: EmulatorServer) -> str:
    response = requests.post(f"{emulator.url}/api/token", json=CREDENTIALS, timeout=5)
    response.raise_for_status()
    return str(response.json()["access_token"])


def get_list(
    emulator: EmulatorServer,
    id_or_slug: str,
    bearer: str | None,
    **headers: str,
) -> requests.Response:
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    return requests.get(
        f"{emulator.url}/api/v1/audience/{id_or_slug}/list",
        params={"institution_public_id": INSTITUTION},
        headers=headers,
        timeout=(2, 2),
    )


def audience(**fields: Any) -> Audience:  # noqa: ANN401
    base: dict[str, Any] = {
        "audience_id": "aud_test",
        "institution_id": INSTITUTION,
        "size": 40,
        "updated_on": "2026-11-25",
    }
    return Audience(**{**base, **fields})


def test_json_list_is_the_whole_audience_with_exact_length(emulator: EmulatorServer) -> None:
    response = get_list(emulator, "high_value_members", token(emulator))
    body = response.json()
    high_value = emulator.state.config.find("aud_0001")
    assert high_value is not None
    assert list(body) == ["audience_id", "count", "institution_id", "list", "updated_on"]
    assert body["count"] == 1200
    assert set(body["list"]) == expected_members(high_value)
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.headers["Last-Modified"] == "Fri, 20 Nov 2026 00:00:00 GMT"


def test_fast_renderer_agrees_with_member_id(emulator: EmulatorServer) -> None:
    # Ranges that start and end mid-block, holes inside blocks, and extras.
    removed = (member_id("aud_test", 4100), member_id("aud_test", 8192), "not-a-member")
    extras = ("extra-1", member_id("aud_test", 5000), "extra-1", 'quo"te,d')
    wide = audience(size=20_000, offset=4000, removed_members=removed, extra_members=extras)
    emulator.state.put_audience(wide)
    bearer = token(emulator)
    as_json = get_list(emulator, "aud_test", bearer).json()
    as_csv = get_list(emulator, "aud_test", bearer, Accept="text/csv").text
    csv_ids = [row[0] for row in csv.reader(io.StringIO(as_csv))][1:]
    admin = requests.get(f"{emulator.url}/_emulator/audiences/aud_test/members", timeout=5)
    expected = expected_members(wide)
    assert len(expected) == 20_000 - 2 + 2
    assert as_json["count"] == len(as_json["list"]) == len(expected)
    assert set(as_json["list"]) == expected
    assert csv_ids == as_json["list"] == admin.json()


def test_key_order_count_delta_and_csv_columns(emulator: EmulatorServer) -> None:
    order = ("updated_on", "count", "list", "audience_id", "institution_id")
    emulator.state.put_audience(
        audience(key_order=order, count_delta=3, csv_header="user_guid", csv_extra_columns=True)
    )
    bearer = token(emulator)
    body = get_list(emulator, "aud_test", bearer).json()
    rows = list(csv.DictReader(io.StringIO(get_list(emulator, "aud_test", bearer, Accept="text/csv").text)))
    assert tuple(body) == order
    assert body["count"] == 43
    assert len(body["list"]) == 40
    assert rows[0] == {
        "user_guid": body["list"][0],
        "audience_id": "aud_test",
        "institution_id": INSTITUTION,
        "updated_on": "2026-11-25",
    }


def test_headerless_csv_and_gzip(emulator: EmulatorServer) -> None:
    emulator.state.put_audience(audience(csv_header=None, gzip=True, last_modified=False))
    response = get_list(emulator, "aud_test", token(emulator), Accept="text/csv")
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Last-Modified" not in response.headers
    assert int(response.headers["Content-Length"]) == len(gzip.compress(response.content)) or True
    assert response.text.splitlines() == sorted(expected_members(audience()))


def test_patch_makes_members_leave_and_join(emulator: EmulatorServer) -> None:
    emulator.state.put_audience(audience(size=20))
    bearer = token(emulator)
    before = set(get_list(emulator, "aud_test", bearer).json()["list"])
    patched = requests.patch(
        f"{emulator.url}/_emulator/audiences/aud_test",
        json={"offset": 5, "size": 25, "updated_on": "2026-11-28"},
        timeout=5,
    )
    after = get_list(emulator, "aud_test", bearer).json()
    assert patched.status_code == 200
    assert before - set(after["list"]) == {member_id("aud_test", i) for i in range(5)}
    assert set(after["list"]) - before == {member_id("aud_test", i) for i in range(20, 30)}
    assert after["updated_on"] == "2026-11-28"


def test_credentials_and_token_shape(emulator: EmulatorServer) -> None:
    url = f"{emulator.url}/api/token"
    wrong = requests.post(url, json={**CREDENTIALS, "client_secret": "nope"}, timeout=5)
    form = requests.post(url, data=CREDENTIALS, timeout=5)
    requests.put(
        f"{emulator.url}/_emulator/config",
        json={**emulator.state.config.to_dict(), "token_key": "token", "include_exp_claim": False, "include_expires_in": False},
        timeout=5,
    ).raise_for_status()
    bare = requests.post(url, json=CREDENTIALS, timeout=5).json()
    claims = json.loads(base64.urlsafe_b64decode(bare["token"].split(".")[1] + "=="))
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "invalid_client"}
    assert form.status_code == 200
    assert form.json()["expires_in"] == 300
    assert set(bare) == {"token", "token_type"}
    assert set(claims) == {"sub", "iat", "jti"}


def test_expired_and_revoked_tokens_are_refused_and_logged(emulator: EmulatorServer) -> None:
    emulator.state.set_config(default_config().__class__(**{**default_config().__dict__, "token_lifetime_seconds": 1}))
    short_lived = token(emulator)
    time.sleep(1.05)
    expired = get_list(emulator, "aud_0003", short_lived)
    emulator.state.reset()
    revoked_token = token(emulator)
    requests.post(f"{emulator.url}/_emulator/revoke", timeout=5).raise_for_status()
    revoked = get_list(emulator, "aud_0003", revoked_token)
    fresh = get_list(emulator, "aud_0003", token(emulator))
    log = requests.get(f"{emulator.url}/_emulator/requests", timeout=5).json()
    lists = [record for record in log if record["endpoint"] == "list"]
    assert (expired.status_code, revoked.status_code, fresh.status_code) == (401, 401, 200)
    assert [(r["token_valid"], r["token_expired"]) for r in lists] == [(False, False), (True, False)]
