"""The desk over real HTTP on loopback: links, scopes, uploads and receipts, caps, CSRF."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from desk_support import fill_template, inbox_names

from kpi.ingest import ingest_inbox
from kpi.warehouse import connect

pytestmark = pytest.mark.slow


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def template(client: httpx.Client, token: str, period: str = "2023-06") -> bytes:
    got = client.get("/template", params={"period": period}, headers=bearer(token))
    assert got.status_code == 200, got.text
    return got.content


def upload(client: httpx.Client, token: str, path, name: str | None = None) -> httpx.Response:
    with open(path, "rb") as fh:
        return client.post(
            "/api/submissions",
            headers=bearer(token),
            files={"file": (name or path.name, fh, "application/octet-stream")},
        )


def waiting(seeded) -> list[str]:
    return inbox_names(seeded.cfg)


def test_healthz_answers_without_a_token(client):
    got = client.get("/healthz")
    assert got.status_code == 200 and got.json()["status"] == "ok"


def test_no_token_reads_nothing(client, seeded, tmp_path):
    for path in ("/", "/board", "/reports/", "/reports/latest", "/departments/fgw", "/template"):
        got = client.get(path)
        assert got.status_code == 401, path
        assert "专属链接" in got.text
    assert client.get("/api/status").status_code == 401
    assert "error" in client.get("/api/status").json()
    sent = client.post("/api/submissions", files={"file": ("a.csv", b"x", "text/csv")})
    assert sent.status_code == 401
    assert waiting(seeded) == []


def test_a_link_sets_a_session_cookie_and_drops_the_token_from_the_address(client, seeded):
    token = seeded.token(department="fgw")
    got = client.get("/", params={"token": token, "x": "1"})
    assert got.status_code == 303
    assert got.headers["location"] == "/?x=1"
    cookie = got.headers["set-cookie"]
    assert cookie.startswith("kpi_desk=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert got.headers["referrer-policy"] == "no-referrer"
    page = client.get("/")  # the client keeps the cookie, as a browser does
    assert page.status_code == 200
    assert "发改委" in page.text and "完成投资" in page.text
    assert "统计局" not in page.text.split("<main>")[1]  # nothing of another department


def test_a_bad_link_is_refused_in_chinese_and_sets_no_cookie(client, seeded):
    token = seeded.token(department="fgw")
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    got = client.get("/", params={"token": forged})
    assert got.status_code == 401 and "set-cookie" not in got.headers
    assert "签名不符" in got.text
    other_plan = __import__("kpi.desk.tokens", fromlist=["mint"]).mint(
        seeded.cfg, "another-2023", "dept:fgw"
    )[0]
    got = client.get("/", params={"token": other_plan})
    assert got.status_code == 401 and "计划年度" in got.text


def test_a_department_uploads_its_template_and_gets_its_receipt_at_once(client, seeded, tmp_path):
    token = seeded.token(department="fgw")
    path = fill_template(
        template(client, token), seeded.catalogue, tmp_path / "发改委_2023年6月.xlsx"
    )

    got = upload(client, token, path)

    assert got.status_code == 202, got.text
    receipt = got.json()
    assert receipt["status"] == "accepted" and receipt["department"] == "fgw"
    assert receipt["accepted"] == 2 and receipt["rejected"] == []
    assert got.headers["x-desk-queued"] == "1"
    assert waiting(seeded) == ["发改委_2023年6月.xlsx"]
    # The nightly run loads it once, with the same receipt.
    [loaded] = ingest_inbox(seeded.cfg, seeded.catalogue)
    assert set(receipt) == set(loaded)  # one element of `kpi ingest --json`
    assert loaded["submission_id"] == receipt["submission_id"]
    assert {k: loaded[k] for k in ("status", "accepted", "rejected")} == {
        k: receipt[k] for k in ("status", "accepted", "rejected")
    }
    assert waiting(seeded) == []


def test_the_template_carries_last_periods_figures_in_a_column_ingest_ignores(client, seeded):
    import io

    import openpyxl

    data = template(client, seeded.token(department="fgw"))
    ws = openpyxl.load_workbook(io.BytesIO(data))["填报表"]
    header = [c.value for c in ws[2]]
    assert header[-1] == "上期填报（仅供参考）" and header[0] == "填报单位"
    refs = {ws.cell(r, 3).value: ws.cell(r, len(header)).value for r in range(3, ws.max_row + 1)}
    assert refs == {"investment_total": "2023-05：60亿元", "finance_hall_open": "2023-05：推进中"}
    csv_text = client.get(
        "/template",
        params={"period": "2023-06", "format": "csv"},
        headers=bearer(seeded.token(department="fgw")),
    ).content.decode("utf-8-sig")
    assert csv_text.splitlines()[1].endswith(",2023-05：60亿元")


def test_refused_rows_come_back_with_row_column_value_and_reason(client, seeded, tmp_path):
    token = seeded.token(department="fgw")
    path = fill_template(
        template(client, token),
        seeded.catalogue,
        tmp_path / "发改委_2023年6月.xlsx",
        {"investment_total": "一百二十"},
    )
    receipt = upload(client, token, path).json()
    assert receipt["status"] == "partial"
    [bad] = receipt["rejected"]
    assert bad["row"] == 3 and bad["column"] == "数值" and bad["value"] == "一百二十"
    assert "发改委_2023年6月.xlsx" in bad["reason"] and "第3行" in bad["reason"]


def test_department_text_is_shown_inert(client, seeded, tmp_path):
    from desk_support import csv_file, row

    token = seeded.token(department="fgw")
    evil = "<script>alert(1)</script>"
    path = csv_file(
        tmp_path / "evil.csv",
        [row("发改委", "2023-06", "investment_total", "亿元", evil)],
    )
    got = upload(client, token, path, name='<img src=x onerror="alert(2)">.csv')
    assert got.json()["rejected"][0]["value"] == evil
    client.cookies.set("kpi_desk", token)
    upload_id = got.headers["x-desk-upload"]
    page = client.get(f"/uploads/{upload_id}").text
    assert evil not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert (
        "script-src 'nonce-"
        in client.get(f"/uploads/{upload_id}").headers["content-security-policy"]
    )


def test_a_file_with_nothing_to_load_is_not_queued(client, seeded, tmp_path):
    token = seeded.token(department="fgw")
    broken = tmp_path / "发改委_2023年6月.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    got = upload(client, token, broken)
    assert got.status_code == 200 and got.headers["x-desk-queued"] == "0"
    assert got.json()["status"] == "rejected" and "无法读取" in got.json()["reason"]
    assert waiting(seeded) == []


def test_another_departments_token_is_refused_for_that_file_and_that_status(
    client, seeded, tmp_path
):
    fgw, tjj = seeded.token(department="fgw"), seeded.token(department="tjj")
    path = fill_template(
        template(client, fgw), seeded.catalogue, tmp_path / "发改委_2023年6月.xlsx"
    )

    got = upload(client, tjj, path)

    assert got.status_code == 403
    assert "发改委" in got.json()["error"] and "统计局" in got.json()["error"]
    assert waiting(seeded) == []
    assert client.get("/api/status?department=发改委", headers=bearer(tjj)).status_code == 403
    assert client.get("/api/status?department=fgw", headers=bearer(tjj)).status_code == 403
    mine = client.get("/api/status", headers=bearer(fgw)).json()
    assert mine and {r["department_code"] for r in mine} == {"fgw"}
    assert client.get("/departments/fgw", headers=bearer(tjj)).status_code == 403
    assert client.get("/board", headers=bearer(tjj)).status_code == 403
    assert client.get("/reports/latest", headers=bearer(tjj)).status_code == 403


def test_status_json_has_the_shape_of_kpi_status_json(client, seeded):
    from kpi.progress import progress_from_snapshot, progress_records
    from kpi.warehouse import open_snapshot

    con = open_snapshot(seeded.cfg)
    df, _, _ = progress_from_snapshot(con, seeded.cfg, seeded.catalogue, None)
    con.close()
    expected = [r for r in progress_records(df) if r["department_code"] == "rsj"]
    got = client.get(
        "/api/status", headers=bearer(seeded.token(role="dcj")), params={"department": "人社局"}
    )
    assert got.json() == json.loads(json.dumps(expected))


def test_form_posts_need_the_pages_csrf_token(client, seeded, tmp_path):
    token = seeded.token(department="fgw")
    path = fill_template(
        template(client, token), seeded.catalogue, tmp_path / "发改委_2023年6月.xlsx"
    )
    client.cookies.set("kpi_desk", token)
    for csrf in (None, "forged"):
        data = {"csrf": csrf} if csrf else {}
        with open(path, "rb") as fh:
            got = client.post("/upload", data=data, files={"file": (path.name, fh)})
        assert got.status_code == 403 and "刷新页面" in got.text
    assert waiting(seeded) == []
    page = client.get("/").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    with open(path, "rb") as fh:
        got = client.post("/upload", data={"csrf": csrf}, files={"file": (path.name, fh)})
    assert got.status_code == 303 and got.headers["location"].startswith("/uploads/")
    receipt = client.get(got.headers["location"])
    assert receipt.status_code == 200 and "全部接收" in receipt.text
    assert waiting(seeded) == [path.name]
    # Another department's session cannot read that receipt.
    client.cookies.set("kpi_desk", seeded.token(department="rsj"))
    assert client.get(got.headers["location"]).status_code == 403


def _raw_request(url: str, head: str, body_chunks: list[bytes]) -> str:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(head.encode("latin-1"))
        for chunk in body_chunks:
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        data = b""
        while b"\r\n\r\n" not in data:
            part = s.recv(65536)
            if not part:
                break
            data += part
    return data.decode("utf-8", "replace")


def _logged(desk, status: int) -> dict:
    import time

    for _ in range(100):
        found = [r for r in desk.app.state.desk.access.pending() if r["status"] == status]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no access record with status {status}")


def test_an_oversized_upload_is_refused_before_its_body_is_read(desk, seeded):
    token = seeded.token(department="fgw")
    too_big = seeded.cfg.max_file_bytes * 10
    head = (
        "POST /api/submissions HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {too_big}\r\n\r\n"
    )
    answer = _raw_request(desk.url, head, [])  # not one byte of the body is sent
    assert answer.startswith("HTTP/1.1 413")
    assert waiting(seeded) == []
    logged = _logged(desk, 413)  # recorded once the answer has gone out
    assert logged["scope"] == "dept:fgw" and logged["path"] == "/api/submissions"


def test_a_chunked_upload_is_cut_off_at_the_cap(desk, seeded):
    token = seeded.token(department="fgw")
    head = (
        "POST /api/submissions HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
    chunk = b"x" * 1_000_000
    frames = [b"%x\r\n%s\r\n" % (len(part), part)]
    frames += [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * (
        seeded.cfg.max_file_bytes // len(chunk) + 3
    )
    answer = _raw_request(desk.url, head, frames)
    assert answer.startswith("HTTP/1.1 413")
    assert waiting(seeded) == []


def test_every_request_is_logged_without_its_token(client, desk, seeded):
    token = seeded.token(department="fgw")
    client.get("/", params={"token": token})
    client.get("/api/status", headers=bearer(token))
    client.get("/board", headers=bearer(token))
    client.cookies.clear()
    client.get("/")
    _logged(desk, 401)  # the last request is recorded once its answer has gone out
    records = desk.app.state.desk.access.pending()
    text = desk.app.state.desk.access.path.read_text(encoding="utf-8")
    assert token not in text and "token=" not in text
    paths = [(r["path"], r["status"], r["scope"]) for r in records]
    assert ("/", 303, "dept:fgw") in paths
    assert ("/api/status", 200, "dept:fgw") in paths
    assert ("/board", 403, "dept:fgw") in paths
    assert ("/", 401, None) in paths
    assert desk.app.state.desk.access.flush() == len(records)
    with connect(seeded.cfg) as con:
        stored = con.execute("select path, status, scope, token_id from meta.access").fetchall()
        dumped = con.execute("select * from meta.access").fetchall()
    assert len(stored) == len(records)
    assert token not in repr(dumped)
    assert desk.app.state.desk.access.flush() == 0
