"""The submission desk: a small server-rendered FastAPI app over the snapshot and the CLI's functions.

Who sees what (a token's scope; no token: 401, another department's anything: 403):
- `dept:<code>`: its page (targets, template, upload, its files and receipts, its open alerts
  with 确认/反馈), the receipt API and its own status;
- `dcj` (督查局): the board (alerts by age and 13710 step with 确认/反馈/销号, departments not
  yet submitted with 催报, last night's run and refused files), every department's page read
  only, the reports, every status;
- `leaders`: the reports, the board and department pages read only, every status.
"""

from __future__ import annotations

import logging
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from kpi import clock
from kpi.catalogue import Catalogue
from kpi.config import Settings
from kpi.desk import actions, files, store, uploads, views
from kpi.desk.access import AccessLog
from kpi.desk.prefill import csv_bytes, references, xlsx_bytes
from kpi.desk.tokens import (
    ROLE_ZH,
    Token,
    TokenError,
    csrf_ok,
    csrf_token,
    verify,
)
from kpi.progress import progress_records
from kpi.templates import TemplateError, parse_period, resolve, template_file_name

log = logging.getLogger("kpi.desk")

HERE = Path(__file__).resolve().parent
COOKIE = "kpi_desk"
FORM_CAP = 64 * 1024  # a form post without a file: a note of 2,000 characters and a few fields
MULTIPART_OVERHEAD = 64 * 1024  # boundaries, headers and the csrf field around an upload
UPLOAD_PATHS = ("/upload", "/api/submissions")
API_PREFIX = "/api/"
STEP_ZH = {"ack": "确认", "feedback": "反馈", "close": "销号"}
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# The reports are self-contained pages (inline styles, scripts and SVG): nothing from outside.
REPORT_CSP = (
    "default-src 'self' 'unsafe-inline' data: blob:; connect-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


class BodyTooLarge(Exception):
    """A request body grew past its cap while being read."""


@dataclass
class Desk:
    """What the app holds: settings, the plan, the access buffer, revocations, the checker."""

    cfg: Settings
    plan: str
    access: AccessLog
    revocations: store.RevocationCache
    checker: uploads.Checker
    env: Environment
    deliver_now: bool = True

    def catalogue(self) -> Catalogue:
        """The plan's catalogue (re-read when its file changes)."""
        from kpi.pipeline import load_plan

        return load_plan(self.cfg, self.plan)

    def upload_cap(self) -> int:
        """Bytes an upload request may carry: the file cap plus multipart framing."""
        return self.cfg.max_file_bytes + MULTIPART_OVERHEAD


# ---- middleware: caps, authentication, ?token= links, security headers, access log ----------


class DeskMiddleware:
    """Pure ASGI, so that a body is capped before and while it is read."""

    def __init__(self, app, desk: Desk):
        self.app = app
        self.desk = desk

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        outcome = {"status": 500}
        request = Request(scope)

        async def send_wrapped(message):
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for k, v in _SECURITY_HEADERS:
                    if k not in present:
                        headers.append((k, v))
                message = {**message, "headers": headers}
                outcome["started"] = True
            await send(message)

        try:
            early = self._early(request, state)
            if early is not None:
                await early(scope, receive, send_wrapped)
                return
            cap = self.desk.upload_cap() if scope["path"] in UPLOAD_PATHS else FORM_CAP
            seen = 0

            async def receive_capped():
                nonlocal seen
                message = await receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > cap:
                        raise BodyTooLarge()
                return message

            try:
                await self.app(scope, receive_capped, send_wrapped)
            except BodyTooLarge:
                if not outcome.get("started"):
                    await _too_large(request, cap)(scope, receive, send_wrapped)
        finally:
            claims: Token | None = state.get("claims")
            client = scope.get("client")
            try:
                self.desk.access.record(
                    scope=claims.scope if claims else None,
                    token_id=claims.id if claims else None,
                    method=scope["method"],
                    path=scope["path"],
                    status=outcome["status"],
                    elapsed_ms=int((time.perf_counter() - started) * 1000),
                    client=client[0] if client else None,
                )
            except Exception:  # logging must never break a response
                log.exception("access record failed")

    def _early(self, request: Request, state: dict):
        """A response decided before the body is read: too large, or a ?token= link."""
        method = request.method
        self._authenticate(request, state)  # first, so that even a refused request is attributed
        if method in ("POST", "PUT", "PATCH"):
            cap = self.desk.upload_cap() if request.url.path in UPLOAD_PATHS else FORM_CAP
            length = request.headers.get("content-length")
            if length is not None:
                if not length.isdigit():
                    return _error(request, 400, "请求头 Content-Length 无效")
                if int(length) > cap:
                    return _too_large(request, cap)
        if method == "GET" and "token" in request.query_params:
            return self._token_link(request, state)
        return None

    def _authenticate(self, request: Request, state: dict) -> None:
        cfg = self.desk.cfg
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            token, via = header[7:].strip(), "bearer"
        else:
            token, via = request.cookies.get(COOKIE), "cookie"
        if not token:
            return
        try:
            state["claims"] = verify(cfg, token, self.desk.plan, self.desk.revocations.get())
            state["via"] = via
        except TokenError as exc:
            state["auth_error"] = str(exc)

    def _token_link(self, request: Request, state: dict):
        """`?token=` sets the session cookie and redirects to the same address without it."""
        cfg = self.desk.cfg
        token = request.query_params.get("token", "")
        state.pop("claims", None)
        try:
            claims = verify(cfg, token, self.desk.plan, self.desk.revocations.get())
        except TokenError as exc:
            state["auth_error"] = str(exc)
            return _error(request, 401, str(exc))
        state["claims"] = claims
        rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
        target = request.url.path + (f"?{urllib.parse.urlencode(rest)}" if rest else "")
        response = RedirectResponse(target, status_code=303)
        max_age = max(1, int((claims.expires - clock.now(cfg.tz)).total_seconds()))
        response.set_cookie(
            COOKIE,
            token,
            max_age=max_age,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response


_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX) or request.url.path == "/healthz"


def _error(request: Request, status: int, message: str) -> Response:
    """An error in Chinese: JSON for the API, a small page otherwise."""
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    desk: Desk = request.app.state.desk if "app" in request.scope else None
    if desk is None:  # before routing (middleware): a bare page
        return HTMLResponse(
            f"<!doctype html><meta charset=utf-8><title>{status}</title><p>{_esc(message)}</p>",
            status_code=status,
        )
    return _page(
        request,
        "message.html.j2",
        status=status,
        title=_TITLES.get(status, "提示"),
        message=message,
    )


def _too_large(request: Request, cap: int) -> Response:
    mb = cap / 1e6
    return _error(request, 413, f"文件太大：上限约 {mb:.0f}MB（请只上传本单位的填报表）")


_TITLES = {
    400: "请求有误",
    401: "请先通过专属链接登录",
    403: "无权访问",
    404: "未找到",
    409: "未能完成",
    413: "文件太大",
    503: "请稍后再试",
}


def _esc(text: str) -> str:
    import html

    return html.escape(text)


# ---- rendering -------------------------------------------------------------------------------


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["when"] = _when
    return env


def _num(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    text = f"{float(value):.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _when(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)[:16].replace("T", " ")


def _page(request: Request, template: str, *, status: int = 200, **data) -> HTMLResponse:
    desk: Desk = request.app.state.desk
    claims: Token | None = request.state.claims if hasattr(request.state, "claims") else None
    nonce = secrets.token_urlsafe(12)
    catalogue = None
    try:
        catalogue = desk.catalogue()
    except Exception:  # the page still renders its message
        log.exception("catalogue unavailable")
    body = desk.env.get_template(template).render(
        claims=claims,
        who=_who(catalogue, claims),
        csrf=csrf_token(desk.cfg, claims) if claims else "",
        nonce=nonce,
        plan_name=catalogue.plan.name_zh if catalogue else "",
        now=clock.now(desk.cfg.tz),
        **data,
    )
    response = HTMLResponse(body, status_code=status)
    response.headers["content-security-policy"] = PAGE_CSP.format(nonce=nonce)
    return response


def _who(catalogue: Catalogue | None, claims: Token | None) -> str:
    if claims is None:
        return ""
    if claims.role:
        return ROLE_ZH[claims.role]
    if catalogue is not None:
        for d in catalogue.departments:
            if d.code == claims.department:
                return d.short_zh
    return claims.department or ""


# ---- access rules --------------------------------------------------------------------------


class Denied(Exception):
    """A request refused with an HTTP status and a Chinese message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _claims(request: Request) -> Token:
    claims = getattr(request.state, "claims", None)
    if claims is None:
        reason = getattr(request.state, "auth_error", None)
        raise Denied(
            401, reason or "请通过本单位的专属链接访问（链接见企业微信或邮件通知），或向督查局索取"
        )
    return claims


def _need_role(request: Request, *roles: str) -> Token:
    claims = _claims(request)
    if claims.role not in roles:
        raise Denied(403, "本页面仅向" + "、".join(ROLE_ZH[r] for r in roles) + "开放")
    return claims


def _need_department(request: Request) -> Token:
    claims = _claims(request)
    if claims.department is None:
        raise Denied(403, "只有填报单位可以报送数据")
    return claims


def _check_csrf(request: Request, claims: Token, sent: str | None) -> None:
    if getattr(request.state, "via", "cookie") == "bearer":
        return  # a script's header, never sent by a browser on its own
    if not csrf_ok(request.app.state.desk.cfg, claims, sent):
        raise Denied(403, "页面已过期或来源不明：请刷新页面后重试")


def _may_see_department(claims: Token, code: str) -> None:
    if claims.department is not None and claims.department != code:
        raise Denied(403, "无权查看其他单位的数据")


# ---- the app -------------------------------------------------------------------------------


def create_app(cfg: Settings, plan: str | None = None, *, deliver_now: bool = True) -> FastAPI:
    """The desk for one plan (default: the configured plan)."""
    plan = plan or cfg.plan
    desk = Desk(
        cfg=cfg,
        plan=plan,
        access=AccessLog(cfg),
        revocations=store.RevocationCache(cfg),
        checker=uploads.Checker(cfg.desk_check_concurrency, cfg.desk_check_queue),
        env=_env(),
        deliver_now=deliver_now,
    )
    desk.catalogue()  # fail at start, not on the first request, if the plan is broken
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, title="kpi desk")
    app.state.desk = desk
    app.add_middleware(DeskMiddleware, desk=desk)

    @app.exception_handler(Denied)
    async def denied(request: Request, exc: Denied):
        return _error(request, exc.status, exc.message)

    @app.exception_handler(actions.Busy)
    async def busy(request: Request, exc: actions.Busy):
        response = _error(request, 503, str(exc))
        response.headers["retry-after"] = "60"
        return response

    @app.exception_handler(uploads.Overloaded)
    async def overloaded(request: Request, exc: uploads.Overloaded):
        response = _error(request, 503, str(exc))
        response.headers["retry-after"] = "10"
        return response

    @app.exception_handler(404)
    async def not_found(request: Request, exc):
        return _error(request, 404, "没有这个页面")

    @app.exception_handler(405)
    async def not_allowed(request: Request, exc):
        return _error(request, 405, "不支持这种请求")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "snapshot": cfg.snapshot.exists()}

    @app.get("/")
    def home(request: Request):
        claims = _claims(request)
        if claims.role == "dcj":
            return RedirectResponse("/board", status_code=303)
        if claims.role == "leaders":
            return RedirectResponse("/reports/", status_code=303)
        return _department_page(request, claims.department, readonly=False)

    @app.get("/departments/{code}")
    def department(request: Request, code: str):
        claims = _claims(request)
        if claims.department == code:
            return RedirectResponse("/", status_code=303)
        _may_see_department(claims, code)
        if code not in {d.code for d in desk.catalogue().departments}:
            raise Denied(404, "没有这个单位")
        return _department_page(request, code, readonly=True)

    def _department_page(request: Request, code: str, *, readonly: bool):
        catalogue = desk.catalogue()
        if code not in {d.code for d in catalogue.departments}:
            raise Denied(403, "本单位不在当前计划的单位名录中，请联系督查局")
        dept = catalogue.department(code)
        today = clock.today(cfg.tz)
        with store.snapshot(cfg) as con:
            records, as_of = views.progress(con, cfg, catalogue)
            targets = views.department_targets(catalogue, records, code, today)
            files_ = views.submissions(con, cfg, catalogue, code)
            alerts = [e for e in views.episodes(con, catalogue, today) if e["department"] == code]
        periods = views.template_periods(catalogue, dept, today)
        return _page(
            request,
            "department.html.j2",
            dept=dept,
            as_of=as_of,
            targets=targets,
            files=files_,
            alerts=alerts,
            periods=periods,
            readonly=readonly,
            max_mb=cfg.max_file_bytes / 1e6,
            ok=request.query_params.get("ok", ""),
        )

    @app.get("/template")
    def template(request: Request, period: str | None = None, format: str = "xlsx"):
        claims = _need_department(request)
        catalogue = desk.catalogue()
        if claims.department not in {d.code for d in catalogue.departments}:
            raise Denied(403, "本单位不在当前计划的单位名录中，请联系督查局")
        dept = catalogue.department(claims.department)
        if format not in ("xlsx", "csv"):
            raise Denied(400, "格式只能是 xlsx 或 csv")
        try:
            p = (
                parse_period(period)
                if period
                else views.template_periods(catalogue, dept, clock.today(cfg.tz))[0]
            )
            dept, p = resolve(catalogue, dept.code, p)
        except (TemplateError, IndexError) as exc:
            raise Denied(400, str(exc) or "没有需要报送的报告期") from None
        with store.snapshot(cfg) as con:
            previous = (
                store.rows(
                    con,
                    "previous_figures",
                    {
                        "plan_code": catalogue.plan.code,
                        "department_code": dept.code,
                        "period": p.code,
                    },
                )
                if store.has_table(con, "staged", "observations")
                else []
            )
        refs = references(catalogue, previous)
        body = (xlsx_bytes if format == "xlsx" else csv_bytes)(catalogue, dept, p, refs)
        name = template_file_name(dept, p, format)
        media = files.MEDIA[".xlsx"] if format == "xlsx" else "text/csv; charset=utf-8"
        return Response(
            body,
            media_type=media,
            headers={"content-disposition": _attachment(name)},
        )

    async def _receive_upload(request: Request) -> tuple[Token, str | None, UploadFile, str | None]:
        claims = _need_department(request)
        form = await request.form(max_files=1, max_fields=8)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Denied(400, "请选择要上传的文件（表单字段 file）")
        return claims, upload.filename, upload, form.get("csrf")

    def _handle_upload(claims: Token, filename: str | None, upload: UploadFile) -> dict:
        catalogue = desk.catalogue()
        if claims.department not in {d.code for d in catalogue.departments}:
            raise Denied(403, "本单位不在当前计划的单位名录中，请联系督查局")
        dept = catalogue.department(claims.department)
        plan_code = catalogue.plan.code
        fh = upload.file
        fh.seek(0)
        staged = uploads.stage(cfg, plan_code, filename, iter(lambda: fh.read(1 << 20), b""))
        try:
            as_of = clock.today(cfg.tz)
            receipt = desk.checker.check(cfg, catalogue, staged.path, as_of)
            queued = uploads.should_queue(receipt)
            named = {receipt["department"]} if receipt.get("department") else set()
            if queued and named <= {dept.code}:
                # The receipt names the file's main department; a few rows of another one
                # would load as theirs: read the rows once more (same worker and caps).
                named |= uploads.departments_named(cfg, catalogue, staged.path, as_of)
            foreign = sorted(named - {dept.code})
            if foreign:
                shorts = "、".join(_short(catalogue, c) for c in foreign)
                raise Denied(
                    403,
                    f"文件“{staged.name}”中有{shorts}的数据，不能以{dept.short_zh}的身份报送："
                    "每个单位只能报送本单位牵头的指标",
                )
            inbox_name = uploads.queue(cfg, plan_code, staged).name if queued else None
            record = {
                "id": staged.id,
                "plan": plan_code,
                "department": dept.code,
                "name": staged.name,
                "inbox_name": inbox_name,
                "size": staged.size,
                "sha256": staged.sha256,
                "uploaded_at": clock.local_now(cfg.tz).isoformat(sep=" ", timespec="seconds"),
                "token_id": claims.id,
                "queued": queued,
                "receipt": receipt,
            }
            uploads.save_record(cfg, plan_code, record)
            log.info(
                "upload %s by %s (%s): %s, queued=%s",
                staged.id,
                dept.code,
                claims.id,
                receipt.get("status"),
                queued,
            )
            return record
        finally:
            uploads.discard(staged)

    @app.post("/upload")
    async def upload_page(request: Request):
        claims, filename, upload, sent = await _receive_upload(request)
        _check_csrf(request, claims, sent)
        record = await run_in_threadpool(_handle_upload, claims, filename, upload)
        return RedirectResponse(f"/uploads/{record['id']}", status_code=303)

    @app.post("/api/submissions")
    async def upload_api(request: Request):
        claims, filename, upload, sent = await _receive_upload(request)
        _check_csrf(request, claims, sent)
        record = await run_in_threadpool(_handle_upload, claims, filename, upload)
        return JSONResponse(
            record["receipt"],
            status_code=202 if record["queued"] else 200,
            headers={
                "x-desk-upload": record["id"],
                "x-desk-queued": "1" if record["queued"] else "0",
            },
        )

    @app.get("/uploads/{upload_id}")
    def upload_receipt(request: Request, upload_id: str):
        claims = _claims(request)
        record = uploads.load_record(cfg, desk.plan, upload_id)
        if record is None:
            raise Denied(404, "没有这条上传记录")
        _may_see_department(claims, record["department"])
        state = (
            "待入库"
            if uploads.pending(cfg, record)
            else ("已处理" if record["queued"] else "未入库")
        )
        return _page(
            request,
            "receipt.html.j2",
            receipt=views.receipt_rows(record["receipt"]),
            queued=record["queued"],
            state=state,
            at=record["uploaded_at"],
            inbox_name=record.get("inbox_name"),
            department=_short(desk.catalogue(), record["department"]),
            stored=False,
        )

    @app.get("/submissions/{submission_id}")
    def stored_receipt(request: Request, submission_id: str):
        claims = _claims(request)
        if not submission_id.isalnum() or len(submission_id) > 64:
            raise Denied(404, "没有这个文件")
        with store.snapshot(cfg) as con:
            found = (
                store.rows(
                    con, "submission", {"plan_code": desk.plan, "submission_id": submission_id}
                )
                if store.has_table(con, "raw", "submissions")
                else []
            )
        if not found:
            raise Denied(404, "没有这个文件")
        row = found[0]
        if claims.department is not None and row["department_code"] != claims.department:
            raise Denied(403, "无权查看其他单位的文件")
        return _page(
            request,
            "receipt.html.j2",
            receipt=views.receipt_rows(store.receipt_of(row)),
            queued=True,
            state="已入库" if row["status"] != "rejected" else "未入库",
            at=_when(row["received_at"]),
            inbox_name=None,
            department=_short(desk.catalogue(), row["department_code"]),
            stored=True,
        )

    @app.post("/alerts/{episode_id}/{step}")
    async def episode_action(request: Request, episode_id: int, step: str):
        claims = _claims(request)
        form = await request.form(max_files=0, max_fields=4)
        _check_csrf(request, claims, form.get("csrf"))
        if step not in STEP_ZH:
            raise Denied(404, "没有这个操作")
        back = "/board" if claims.role else "/"
        if claims.role == "leaders":
            raise Denied(403, "区领导页面为只读")
        if claims.department is not None:
            if step == "close":
                raise Denied(403, "销号由督查局办理")
            with store.snapshot(cfg) as con:
                mine = {
                    e["id"]
                    for e in views.episodes(con, desk.catalogue(), clock.today(cfg.tz))
                    if e["department"] == claims.department
                }
            if episode_id not in mine:
                raise Denied(403, "只能处理本单位的预警")
        text = form.get("text")
        actor = f"desk:{claims.scope}:{claims.id}"
        try:
            await run_in_threadpool(
                actions.episode_step,
                cfg,
                step,
                episode_id,
                text if isinstance(text, str) else None,
                actor=actor,
                access=desk.access,
            )
        except actions.Refused as exc:
            raise Denied(409, str(exc)) from None
        return RedirectResponse(f"{back}?ok={step}-{episode_id}#e{episode_id}", status_code=303)

    @app.get("/board")
    def board(request: Request):
        claims = _need_role(request, "dcj", "leaders")
        catalogue = desk.catalogue()
        today = clock.today(cfg.tz)
        with store.snapshot(cfg) as con:
            records, as_of = views.progress(con, cfg, catalogue)
            episodes = views.episodes(con, catalogue, today)
            missing = views.missing(
                catalogue,
                records,
                today,
                views.reminded_today(con, catalogue, today),
                views.waiting_uploads(cfg, catalogue),
            )
            run = views.last_run(con, catalogue)
        stages = {}
        for e in episodes:
            stages[e["stage"]] = stages.get(e["stage"], 0) + 1
        return _page(
            request,
            "board.html.j2",
            as_of=as_of,
            episodes=episodes,
            stages=stages,
            missing=missing,
            run=run,
            can_act=claims.role == "dcj",
            departments=catalogue.departments,
            ok=request.query_params.get("ok", ""),
        )

    @app.post("/board/remind")
    async def remind(request: Request):
        claims = _need_role(request, "dcj")
        form = await request.form(max_files=0, max_fields=4)
        _check_csrf(request, claims, form.get("csrf"))
        catalogue = desk.catalogue()
        code, period = str(form.get("department") or ""), str(form.get("period") or "")
        if code not in {d.code for d in catalogue.departments}:
            raise Denied(400, "没有这个单位")
        try:
            parse_period(period)
        except TemplateError as exc:
            raise Denied(400, str(exc)) from None
        try:
            await run_in_threadpool(
                actions.remind,
                cfg,
                catalogue,
                code,
                period,
                actor=f"desk:{claims.scope}:{claims.id}",
                access=desk.access,
                deliver_now=desk.deliver_now,
            )
        except actions.Refused as exc:
            raise Denied(409, str(exc)) from None
        return RedirectResponse(f"/board?ok=remind-{code}#missing", status_code=303)

    @app.get("/reports/")
    def reports_index(request: Request):
        _need_role(request, "dcj", "leaders")
        reports = files.reports_of(cfg, desk.plan)
        return _page(
            request,
            "reports.html.j2",
            reports=reports,
            data_docs=files.data_docs_index(cfg, desk.plan),
        )

    @app.get("/reports/latest")
    def reports_latest(request: Request):
        _need_role(request, "dcj", "leaders")
        for r in files.reports_of(cfg, desk.plan):
            if r.html:
                return RedirectResponse(f"/reports/{urllib.parse.quote(r.html)}", status_code=303)
        raise Denied(404, "还没有进展报告：夜间流程运行后生成")

    @app.get("/reports/{rel:path}")
    def report_file(request: Request, rel: str):
        claims = _claims(request)
        if claims.department is not None:
            raise Denied(
                403, "进展报告汇总全区各单位情况，仅向区领导和督查局开放；本单位情况见本单位页面"
            )
        path = files.resolve(cfg, rel)
        if path is None:
            raise Denied(404, "没有这个文件")
        response = FileResponse(path, media_type=files.media_type(path))
        response.headers["content-security-policy"] = REPORT_CSP
        response.headers["cache-control"] = "private, no-cache"
        if path.suffix == ".xlsx":
            response.headers["content-disposition"] = _attachment(path.name)
        return response

    @app.get("/api/status")
    def api_status(request: Request, department: str | None = None):
        claims = _claims(request)
        catalogue = desk.catalogue()
        code = claims.department
        if department:
            dept = catalogue.resolve_department(department)
            if dept is None:
                raise Denied(404, f"未知单位：{department[:40]}")
            _may_see_department(claims, dept.code)
            code = dept.code
        with store.snapshot(cfg) as con:
            if not store.has_table(con, "mart", "progress"):
                return []
            from kpi.progress import progress_from_snapshot

            df, used, _stored = progress_from_snapshot(con, cfg, catalogue, None)
        if used is None:
            return []
        if code is not None:
            df = df[df["department_code"] == code]
        return progress_records(df)

    @app.post("/logout")
    async def logout(request: Request):
        claims = _claims(request)
        form = await request.form(max_files=0, max_fields=2)
        _check_csrf(request, claims, form.get("csrf"))
        response = _page(
            request, "message.html.j2", title="已退出", message="已退出。再次访问请使用专属链接。"
        )
        response.delete_cookie(COOKIE, path="/")
        return response

    return app


def _short(catalogue: Catalogue, code: str | None) -> str:
    for d in catalogue.departments:
        if d.code == code:
            return d.short_zh
    return code or "未知单位"


def _attachment(name: str) -> str:
    """A Content-Disposition for a Chinese file name (RFC 5987), with an ASCII fallback."""
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(name)}"
