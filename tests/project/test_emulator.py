"""The MX audience emulator over real HTTP: bodies, tokens, faults, admin API, CLI."""

from __future__ import annotations

import base64
import csv
import dataclasses
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
PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
    institution: str = INSTITUTION,
    **headers: str,
) -> requests.Response:
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    return requests.get(
        f"{emulator.url}/api/v1/audience/{id_or_slug}/list",
        params={"institution_public_id": institution},
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


def test_json_list_is_the_whole_audience_with_exact_length(
    emulator: EmulatorServer,
) -> None:
    response = get_list(emulator, "high_value_members", token(emulator))
    body = response.json()
    high_value = emulator.state.config.find("aud_0001", INSTITUTION)
    assert high_value is not None
    assert list(body) == [
        "audience_id",
        "count",
        "institution_id",
        "list",
        "updated_on",
    ]
    assert body["count"] == 1200
    assert set(body["list"]) == expected_members(high_value)
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.headers["Last-Modified"] == "Fri, 20 Nov 2026 00:00:00 GMT"


def test_fast_renderer_agrees_with_member_id(emulator: EmulatorServer) -> None:
    # Ranges that start and end mid-block, holes inside blocks, and extras.
    removed = (member_id("aud_test", 4100), member_id("aud_test", 8192), "not-a-member")
    extras = ("extra-1", member_id("aud_test", 5000), "extra-1", 'quo"te,d')
    wide = audience(
        size=20_000, offset=4000, removed_members=removed, extra_members=extras
    )
    emulator.state.put_audience(wide)
    bearer = token(emulator)
    as_json = get_list(emulator, "aud_test", bearer).json()
    as_csv = get_list(emulator, "aud_test", bearer, Accept="text/csv").text
    csv_ids = [row[0] for row in csv.reader(io.StringIO(as_csv))][1:]
    admin = requests.get(
        f"{emulator.url}/_emulator/audiences/aud_test/members", timeout=5
    )
    expected = expected_members(wide)
    assert len(expected) == 20_000 - 2 + 2
    assert as_json["count"] == len(as_json["list"]) == len(expected)
    assert set(as_json["list"]) == expected
    assert csv_ids == as_json["list"] == admin.json()


def test_key_order_count_delta_and_csv_columns(emulator: EmulatorServer) -> None:
    order = ("updated_on", "count", "list", "audience_id", "institution_id")
    emulator.state.put_audience(
        audience(
            key_order=order,
            count_delta=3,
            csv_header="user_guid",
            csv_extra_columns=True,
        )
    )
    bearer = token(emulator)
    body = get_list(emulator, "aud_test", bearer).json()
    rows = list(
        csv.DictReader(
            io.StringIO(get_list(emulator, "aud_test", bearer, Accept="text/csv").text)
        )
    )
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
    emulator.state.put_audience(
        audience(csv_header=None, gzip=True, last_modified=False)
    )
    response = requests.get(
        f"{emulator.url}/api/v1/audience/aud_test/list",
        params={"institution_public_id": INSTITUTION},
        headers={"Authorization": f"Bearer {token(emulator)}", "Accept": "text/csv"},
        stream=True,
        timeout=5,
    )
    compressed = response.raw.read(decode_content=False)
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Last-Modified" not in response.headers
    assert int(response.headers["Content-Length"]) == len(compressed)
    lines = gzip.decompress(compressed).decode().split("\r\n")
    assert lines == [member_id("aud_test", i) for i in range(40)] + [""]


JSON_LAYOUTS: dict[str, dict[str, Any]] = {
    "compact": {"separators": (",", ":")},
    "spaced_colon": {"separators": (",", ": ")},
    "spaced_comma": {"separators": (", ", ":")},
    "spaced": {"separators": (", ", ": ")},
    "pretty": {"indent": 2},
    "pretty_crlf": {"indent": 2},
}


@pytest.mark.parametrize("layout", JSON_LAYOUTS)
@pytest.mark.parametrize("size", [0, 1, 5000])
def test_json_layout_is_what_json_dumps_writes(
    emulator: EmulatorServer, layout: str, size: int
) -> None:
    extras = ('quo"te', "ünï") if size else ()
    emulator.state.put_audience(
        audience(size=size, json_layout=layout, extra_members=extras)
    )
    response = get_list(emulator, "aud_test", token(emulator))
    dumped = json.dumps(response.json(), **JSON_LAYOUTS[layout])
    if layout == "pretty_crlf":
        dumped = dumped.replace("\n", "\r\n")
    assert response.content == dumped.encode()
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert len(response.json()["list"]) == size + len(extras)


@pytest.mark.parametrize(("line_ending", "newline"), [("crlf", "\r\n"), ("lf", "\n")])
@pytest.mark.parametrize("header", [None, "member_id"])
def test_csv_line_ending(
    emulator: EmulatorServer, line_ending: str, newline: str, header: str | None
) -> None:
    emulator.state.put_audience(
        audience(size=3, csv_header=header, csv_line_ending=line_ending)
    )
    response = get_list(emulator, "aud_test", token(emulator), Accept="text/csv")
    ids = [member_id("aud_test", i) for i in range(3)]
    lines = ids if header is None else [header, *ids]
    assert response.content == "".join(line + newline for line in lines).encode()
    assert int(response.headers["Content-Length"]) == len(response.content)


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
    assert set(after["list"]) - before == {
        member_id("aud_test", i) for i in range(20, 30)
    }
    assert after["updated_on"] == "2026-11-28"


def test_credentials_and_token_shape(emulator: EmulatorServer) -> None:
    url = f"{emulator.url}/api/token"
    wrong = requests.post(url, json={**CREDENTIALS, "client_secret": "nope"}, timeout=5)
    form = requests.post(url, data=CREDENTIALS, timeout=5)
    requests.put(
        f"{emulator.url}/_emulator/config",
        json={
            **emulator.state.config.to_dict(),
            "token_key": "token",
            "include_exp_claim": False,
            "include_expires_in": False,
        },
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


def test_expired_and_revoked_tokens_are_refused_and_logged(
    emulator: EmulatorServer,
) -> None:
    config = emulator.state.config
    emulator.state.set_config(dataclasses.replace(config, token_lifetime_seconds=1))
    short_lived = token(emulator)
    emulator.state.set_config(config)
    time.sleep(1.05)
    expired = get_list(emulator, "aud_0003", short_lived)
    revoked_token = token(emulator)
    requests.post(f"{emulator.url}/_emulator/revoke", timeout=5).raise_for_status()
    revoked = get_list(emulator, "aud_0003", revoked_token)
    fresh = get_list(emulator, "aud_0003", token(emulator))
    log = requests.get(f"{emulator.url}/_emulator/requests", timeout=5).json()
    checks = [
        (r["token_valid"], r["token_expired"]) for r in log if r["endpoint"] == "list"
    ]
    assert (expired.status_code, revoked.status_code, fresh.status_code) == (
        401,
        401,
        200,
    )
    assert checks == [(False, True), (False, False), (True, False)]
    assert not any(bearer in json.dumps(log) for bearer in (short_lived, revoked_token))


def test_not_found_forbidden_and_unauthorized(emulator: EmulatorServer) -> None:
    emulator.state.put_audience(audience(forbidden=True))
    bearer = token(emulator)
    wrong_institution = requests.get(
        f"{emulator.url}/api/v1/audience/aud_0001/list",
        params={"institution_public_id": "OTHER"},
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=5,
    )
    assert get_list(emulator, "no_such_audience", bearer).status_code == 404
    assert wrong_institution.status_code == 404
    assert get_list(emulator, "aud_test", bearer).status_code == 403
    assert get_list(emulator, "aud_0001", None).status_code == 401
    assert get_list(emulator, "aud_0001", bearer + "x").status_code == 401


def test_one_slug_names_one_audience_per_institution(
    emulator: EmulatorServer,
) -> None:
    emulator.state.put_audience(audience(slug="shared", size=3))
    emulator.state.put_audience(
        audience(audience_id="aud_other", institution_id="INST_OTHER", slug="shared")
    )
    bearer = token(emulator)
    here = get_list(emulator, "shared", bearer).json()
    there = get_list(emulator, "shared", bearer, "INST_OTHER").json()
    nowhere = get_list(emulator, "shared", bearer, "INST_NONE")
    before = emulator.state.config
    clash = requests.put(
        f"{emulator.url}/_emulator/config",
        json={
            **before.to_dict(),
            "audiences": [
                {
                    "audience_id": audience_id,
                    "institution_id": INSTITUTION,
                    "size": 1,
                    "updated_on": "2026-11-25",
                    "slug": "shared",
                }
                for audience_id in ("aud_a", "aud_b")
            ],
        },
        timeout=5,
    )
    assert (here["audience_id"], here["institution_id"]) == ("aud_test", INSTITUTION)
    assert set(here["list"]) == {member_id("aud_test", i) for i in range(3)}
    assert (there["audience_id"], there["institution_id"]) == (
        "aud_other",
        "INST_OTHER",
    )
    assert set(there["list"]) == {member_id("aud_other", i) for i in range(40)}
    assert nowhere.status_code == 404
    assert clash.status_code == 400
    assert clash.json()["detail"] == "slugs must be unique within an institution"
    assert emulator.state.config == before


def test_fault_for_an_audience_id_spares_its_slug_elsewhere(
    emulator: EmulatorServer,
) -> None:
    emulator.state.put_audience(audience(slug="shared"))
    emulator.state.put_audience(
        audience(audience_id="aud_other", institution_id="INST_OTHER", slug="shared")
    )
    emulator.state.faults.add(Fault("status", status=503, id_or_slug="aud_other"))
    bearer = token(emulator)
    statuses = [
        get_list(emulator, "shared", bearer, institution).status_code
        for institution in (INSTITUTION, "INST_OTHER", "INST_OTHER")
    ]
    assert statuses == [200, 503, 200]


def test_status_fault_hits_only_its_audience_then_is_used_up(
    emulator: EmulatorServer,
) -> None:
    fault = {
        "kind": "status",
        "status": 429,
        "retry_after": "2",
        "id_or_slug": "aud_0002",
        "times": 2,
    }
    requests.post(
        f"{emulator.url}/_emulator/faults", json=fault, timeout=5
    ).raise_for_status()
    bearer = token(emulator)
    other = get_list(emulator, "aud_0001", bearer)
    limited = [get_list(emulator, "new_accounts", bearer) for _ in range(2)]
    served = get_list(emulator, "new_accounts", bearer)
    assert other.status_code == 200
    assert [(r.status_code, r.headers.get("Retry-After")) for r in limited] == [
        (429, "2")
    ] * 2
    assert served.status_code == 200
    assert emulator.state.faults.pending() == []


def test_connection_faults(emulator: EmulatorServer) -> None:
    bearer = token(emulator)
    emulator.state.faults.add(Fault("drop_before_headers"))
    with pytest.raises(requests.ConnectionError, match="without response"):
        get_list(emulator, "aud_0001", bearer)
    emulator.state.faults.add(Fault("drop_mid_body"))
    with pytest.raises(
        requests.exceptions.ChunkedEncodingError, match="IncompleteRead"
    ):
        get_list(emulator, "aud_0001", bearer)
    emulator.state.faults.add(Fault("stall", delay_seconds=5))
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError, match="Read timed out"):
        get_list(emulator, "aud_0001", bearer)
    assert time.monotonic() - started < 4


def test_body_faults(emulator: EmulatorServer) -> None:
    bearer = token(emulator)
    emulator.state.faults.add(Fault("truncate"))
    truncated = get_list(emulator, "aud_0001", bearer)
    emulator.state.faults.add(Fault("html_200"))
    html = get_list(emulator, "aud_0001", bearer)
    emulator.state.faults.add(
        Fault("body", body_base64=base64.b64encode(b"\xff\xfe").decode())
    )
    raw = get_list(emulator, "aud_0001", bearer)
    emulator.state.faults.add(Fault("slow_body", delay_seconds=0.3, pieces=3))
    started = time.monotonic()
    slow = get_list(emulator, "aud_0001", bearer)
    slow_seconds = time.monotonic() - started
    assert truncated.status_code == 200
    assert (
        len(truncated.content) == int(truncated.headers["Content-Length"]) == 42103 // 2
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated.text)
    assert html.headers["Content-Type"].startswith("text/html")
    assert raw.content == b"\xff\xfe"
    assert slow.json()["count"] == 1200
    assert slow_seconds >= 0.6


def test_expire_token_fault_is_not_a_really_expired_token(
    emulator: EmulatorServer,
) -> None:
    bearer = token(emulator)
    emulator.state.faults.add(Fault("expire_token"))
    refused = get_list(emulator, "aud_0001", bearer)
    served = get_list(emulator, "aud_0001", bearer)
    records = [r for r in emulator.state.log.records() if r.endpoint == "list"]
    assert (refused.status_code, served.status_code) == (401, 200)
    assert "expired" in refused.headers["WWW-Authenticate"]
    assert [(r.fault, r.token_expired) for r in records] == [
        ("expire_token", False),
        (None, False),
    ]


def test_admin_api_rejects_bad_documents(emulator: EmulatorServer) -> None:
    bad_audience = requests.put(
        f"{emulator.url}/_emulator/audiences/a", json={"size": 5}, timeout=5
    )
    bad_fault = requests.post(
        f"{emulator.url}/_emulator/faults", json={"kind": "stall"}, timeout=5
    )
    bad_type = requests.patch(
        f"{emulator.url}/_emulator/audiences/aud_0001", json={"size": "many"}, timeout=5
    )
    assert (
        bad_audience.status_code == bad_fault.status_code == bad_type.status_code == 400
    )
    assert "institution_id" in bad_audience.json()["detail"]
    assert "delay_seconds" in bad_fault.json()["detail"]
    assert emulator.state.config == default_config()


def test_refuses_non_loopback_host() -> None:
    with pytest.raises(ValueError, match="loopback"):
        EmulatorServer(default_config(), host="0.0.0.0")  # noqa: S104 - the point of the test


def test_cli_serves_until_sigterm() -> None:
    command = [sys.executable, "-m", "mx_audience_emulator", "--port", "0"]
    with subprocess.Popen(
        [*command, "--token-lifetime", "60"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.rsplit(" ", 1)[-1].strip()
        issued = requests.post(f"{url}/api/token", json=CREDENTIALS, timeout=5).json()
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=10)
    assert line.startswith("MX audience emulator listening on http://127.0.0.1:")
    assert issued["expires_in"] == 60
    assert status == 0
