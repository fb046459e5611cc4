"""The hub application factory: wires store, bus, Rasa client and blueprints together."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

from sanic import Request, Sanic
from sanic.exceptions import SanicException
from sanic.http import Stage
from sanic.response import HTTPResponse, empty, file, text
from sanic.response import json as json_response
from sanic.server.protocols.websocket_protocol import WebSocketProtocol
from sqlalchemy.exc import SQLAlchemyError

from handoff import assist, review
from handoff.auth import _stand_in_hash, current_agent, customer_conversation
from handoff.channels.web import WebChannel
from handoff.channels.web import bp as web_bp
from handoff.console import bp as console_bp
from handoff.customers import CustomerDirectory
from handoff.errors import ApiError
from handoff.figures import bp as figures_bp
from handoff.history import bp as history_bp
from handoff.kbdata import EntryCache
from handoff.knowledge import bp as knowledge_bp
from handoff.limits import RateLimiter
from handoff.openapi import build_spec
from handoff.presence import PresenceTracker
from handoff.rasa_client import RasaClient
from handoff.realtime import Bus, RedisBus
from handoff.retrain import Retrainer
from handoff.service import Hub
from handoff.settings import ROOT, Settings
from handoff.silence import SilenceWatcher
from handoff.silence import bp as silence_bp
from handoff.store import Store
from handoff.ticket_desk import bp as ticket_desk_bp
from handoff.wechat import callback as wechat_callback
from handoff.wechat import config as wechat_config

log = logging.getLogger("handoff")

_REDACT = (
    (re.compile(r"(token=)[^&\s\"']+", re.I), r"\1***"),
    (re.compile(r"(bearer\s+)[A-Za-z0-9._~+/=-]+", re.I), r"\1***"),
    (re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)"), r"\1****\2"),
)


def redact(message: str) -> str:
    """Mask tokens and mainland mobile numbers in a log line."""
    for pattern, repl in _REDACT:
        message = pattern.sub(repl, message)
    return message


class RedactingFilter(logging.Filter):
    """Keeps phone numbers and tokens out of every log record (access log URLs included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            rendered = record.getMessage()
        except Exception:
            return True
        cleaned = redact(rendered)
        if cleaned != rendered:
            record.msg, record.args = cleaned, ()
        for attr in ("request",):
            value = getattr(record, attr, None)
            if isinstance(value, str):
                setattr(record, attr, redact(value))
        return True


def install_log_redaction() -> None:
    flt = RedactingFilter()
    for name in ("", "sanic.root", "sanic.error", "sanic.access", "handoff"):
        logger = logging.getLogger(name)
        logger.addFilter(flt)
        for handler in logger.handlers:
            handler.addFilter(flt)


class HubProtocol(WebSocketProtocol):
    """Sanic restarts its request timer on every byte received, so a client that trickles its
    request head (a header line every few seconds) holds a connection for ever (slowloris).
    Here the head must be complete within ``REQUEST_TIMEOUT`` of its first byte."""

    def data_received(self, data: bytes) -> None:
        http = getattr(self, "_http", None)  # set by the connection task, which may not have run yet
        in_head = http is not None and http.stage is Stage.REQUEST
        started = self._time
        super().data_received(data)
        if in_head:
            self._time = started


CONSOLE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
               "object-src 'none'")


def _header_too_large(request: Request, exc: Exception) -> bool:
    return "header" in str(exc).lower() and getattr(request, "method", "") == "NONE"


def _head_too_large(request: Request) -> HTTPResponse:
    """Sanic refuses a request head over ``REQUEST_MAX_HEADER_SIZE`` (8 KB) as 413 "payload too
    large"; the client needs to hear that its URL (414) or its headers (431) were too long."""
    stream = getattr(request, "stream", None)
    buffered = bytes(getattr(stream, "recv_buffer", b"") or b"")
    end = buffered.find(b"\r\n")
    request_line = len(buffered) if end == -1 else end
    if request_line >= 4096:
        return json_response({"error": {"code": "uri_too_long",
                                        "message": "URL too long (at most about 8 KB). 请求地址过长。"}}, status=414)
    return json_response({"error": {"code": "headers_too_large",
                                    "message": "Request headers too large (at most 8 KB). 请求头过大。"}}, status=431)


def _bad_handshake(request: Request) -> HTTPResponse:
    """Sanic answers a websocket route that gets no valid upgrade with a 500; the client sent a
    plain request (426) or a broken handshake (400)."""
    if "websocket" not in request.headers.get("upgrade", "").lower():
        return json_response({"error": {"code": "upgrade_required",
                                        "message": "This is a websocket endpoint. 请使用 WebSocket 连接。"}},
                             status=426, headers={"Upgrade": "websocket", "Connection": "Upgrade"})
    return json_response({"error": {"code": "bad_handshake",
                                    "message": "Invalid websocket handshake. WebSocket 握手无效。"}}, status=400)


CUSTOMER_PATHS = (
    "/api/conversations",
    "/api/conversations/<conversation_id:str>",
    "/api/conversations/<conversation_id:str>/messages",
    "/api/conversations/<conversation_id:str>/typing",
    "/api/conversations/<conversation_id:str>/csat",
    "/api/conversations/<conversation_id:str>/leave_message",
)


def create_app(settings: Settings | None = None, name: str = "kefu_hub",
               wechat: wechat_config.WeChatSettings | None = None) -> Sanic:
    """A hub app; all state lives in ``app.ctx`` and is built when the server starts."""
    settings = settings or Settings.from_env()
    wechat = wechat if wechat is not None else wechat_config.from_environment(ROOT)
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = settings.max_body_bytes
    app.config.WEBSOCKET_MAX_SIZE = settings.max_body_bytes
    app.config.FALLBACK_ERROR_FORMAT = "json"
    if settings.proxies_count:  # only then are X-Forwarded-For/-Proto/-Host believed
        app.config.PROXIES_COUNT = settings.proxies_count
    app.ctx.settings = settings
    app.blueprint(web_bp)
    app.blueprint(console_bp)
    app.blueprint(history_bp)
    app.blueprint(ticket_desk_bp)
    app.blueprint(silence_bp)
    app.blueprint(figures_bp)
    app.blueprint(knowledge_bp)
    app.ctx.kb_entries = EntryCache(Path(settings.kb_root))
    install_log_redaction()

    @app.before_server_start
    async def _start(app: Sanic, _loop: Any) -> None:
        store = Store.from_url(settings.database_url, settings.db_busy_timeout)
        await create_schema(store)
        bus: Bus = RedisBus(settings.redis_url, settings.redis_timeout) if settings.redis_url else Bus()
        await bus.start()
        redis = bus.redis if isinstance(bus, RedisBus) else None
        rasa = RasaClient(settings.rasa_url, settings.rasa_timeout, settings.rasa_concurrency,
                          settings.rasa_queue_wait)
        await rasa.start()
        limiter = RateLimiter(settings.rate_limit_count, settings.rate_limit_window, redis,
                              settings.redis_timeout)
        hub = Hub(settings, store, bus, rasa, CustomerDirectory(), limiter)
        hub.add_channel(WebChannel(hub))
        app.ctx.store, app.ctx.bus, app.ctx.hub = store, bus, hub
        app.ctx.presence = PresenceTracker(hub, settings.agent_away_after, settings.away_requeue_after)
        await app.ctx.presence.start()
        app.ctx.silence = SilenceWatcher(hub)
        await app.ctx.silence.start()
        app.ctx.turn_sweep = asyncio.get_running_loop().create_task(hub.sweep_turns())
        app.ctx.retrainer = Retrainer(settings, store)
        await app.ctx.retrainer.start()
        await asyncio.to_thread(_stand_in_hash)  # so the first unknown username is not the slow one

    @app.after_server_stop
    async def _stop(app: Sanic, _loop: Any) -> None:
        app.ctx.turn_sweep.cancel()
        await app.ctx.retrainer.stop()
        await app.ctx.presence.stop()
        await app.ctx.silence.stop()
        await app.ctx.hub.rasa.close()
        await app.ctx.bus.stop()
        await app.ctx.store.close()

    @app.exception(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> HTTPResponse:
        return with_cors(request, json_response(exc.to_dict(), status=exc.status, headers=exc.headers))

    @app.exception(SanicException)
    async def _sanic_error(request: Request, exc: SanicException) -> HTTPResponse:
        status = getattr(exc, "status_code", 500) or 500
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
                 400: "bad_request", 408: "request_timeout"}
        message = str(exc) or "error"
        if status == 413 and wechat.enabled and request.path == wechat.callback_path:
            log.warning("WeChat push refused (400): body over %d bytes", settings.max_body_bytes)
            return text("bad request", status=400)  # WeChat's callback contract: 400, not JSON
        if status == 413 and _header_too_large(request, exc):
            return _head_too_large(request)
        if status == 500 and getattr(getattr(request.route, "ctx", None), "websocket", False):
            return _bad_handshake(request)
        if status == 413:
            message = f"Request body larger than {settings.max_body_bytes} bytes. 请求过大。"
        return with_cors(request, json_response(
            {"error": {"code": codes.get(status, "error"), "message": message}}, status=status))

    @app.exception(Exception)
    async def _crash(request: Request, exc: Exception) -> HTTPResponse:
        if isinstance(exc, SQLAlchemyError):
            log.error("database error on %s: %s", request.path, type(exc).__name__)
            return with_cors(request, json_response(
                {"error": {"code": "unavailable", "message": "Storage unavailable; retry. 服务暂不可用，请重试。"}},
                status=503))
        log.exception("unhandled error on %s", request.path)
        return with_cors(request, json_response(
            {"error": {"code": "internal", "message": "Internal error. 服务器错误。"}}, status=500))

    def with_cors(request: Request, resp: HTTPResponse) -> HTTPResponse:
        if request.path.startswith("/api/conversations"):
            origin = request.headers.get("origin")
            allowed = settings.allowed_origins
            if allowed == "*" or (origin and origin in allowed.split(",")):
                resp.headers["Access-Control-Allow-Origin"] = "*" if allowed == "*" else origin
                resp.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
                resp.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
                resp.headers["Access-Control-Max-Age"] = "600"
        return resp

    @app.on_response
    async def _headers(request: Request, resp: HTTPResponse) -> None:
        with_cors(request, resp)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.path == "/console":  # the console must not be framed (clickjacking) nor run foreign script
            resp.headers.setdefault("X-Frame-Options", "DENY")
            resp.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
        if request.path.startswith("/api/"):
            resp.headers.setdefault("Cache-Control", "no-store")

    async def _preflight(request: Request, **_: Any) -> HTTPResponse:
        return empty(status=204)

    for i, path in enumerate(CUSTOMER_PATHS):
        app.add_route(_preflight, path, methods=["OPTIONS"], name=f"preflight_{i}")

    @app.get("/healthz")
    async def healthz(request: Request) -> HTTPResponse:
        """503 when the database cannot take a write now (down, frozen, locked), within about
        1.5 s. Redis down is reported but stays 200: the hub works on, events wait in the outbox."""
        database = await app.ctx.store.health()
        body: dict[str, Any] = {"ok": database == "ok", "database": database,
                                "realtime": "redis" if settings.redis_url else "in-process"}
        bus = app.ctx.bus
        if isinstance(bus, RedisBus):
            body["redis"] = "ok" if bus.up else "down"
            body["outbox"] = len(bus.outbox)
        return json_response(body, status=200 if database == "ok" else 503)

    @app.on_request
    async def _websocket_storage(request: Request) -> HTTPResponse | None:
        """Authenticate a websocket before its handshake: with the database out of reach the
        upgrade is refused (503), so clients back off instead of opening sockets that close at once."""
        if request.path not in ("/ws/customer", "/ws/agent"):
            return None
        try:
            if request.path == "/ws/customer":
                request.ctx.ws_conversation = await customer_conversation(
                    request, request.args.get("conversation_id", ""), request.args.get("token"))
            else:
                request.ctx.ws_agent = await current_agent(request, require_csrf=False, allow_query_token=True)
        except ApiError:
            return None  # the handler answers it on the socket, as before
        except SQLAlchemyError as exc:
            log.error("database error on a websocket handshake: %s", type(exc).__name__)
            return json_response({"error": {"code": "unavailable",
                                            "message": "Storage unavailable; retry later. 服务暂不可用，请稍后重试。"}},
                                 status=503, headers={"Retry-After": "5"})
        return None

    @app.get("/openapi.json")
    async def openapi(request: Request) -> HTTPResponse:
        return json_response(build_spec(settings.public_url, settings.max_message_chars,
                                        wechat.callback_path if wechat.enabled else None))

    static_dir = Path(settings.static_dir)

    async def _static_file(name: str) -> HTTPResponse:
        path = static_dir / name
        if not path.is_file():
            raise ApiError(404, "not_found", f"{name} is not built yet.")
        return await file(path)

    @app.get("/")
    async def shop_page(request: Request) -> HTTPResponse:
        return await _static_file("index.html")

    @app.get("/widget.js")
    async def widget(request: Request) -> HTTPResponse:
        resp = await _static_file("widget.js")
        resp.headers["Access-Control-Allow-Origin"] = "*"
        return resp

    @app.get("/console")
    async def console_page(request: Request) -> HTTPResponse:
        return await _static_file("console.html")

    @app.get("/static/<name:path>")
    async def static_asset(request: Request, name: str) -> HTTPResponse:
        try:  # a name the file system refuses (too long, NUL) is just not there
            target = (static_dir / name).resolve()
            found = static_dir.resolve() in target.parents and target.is_file()
        except (OSError, ValueError):
            found = False
        if not found:
            raise ApiError(404, "not_found", "No such file.")
        resp = await file(target)
        if target.suffix == ".js":  # the widget's modules are imported by shop pages of any origin
            resp.headers["Access-Control-Allow-Origin"] = "*"
        return resp

    review.install(app)  # after the hub's start listener: capture watches the hub's bot turns
    assist.install(app)
    if wechat.enabled:  # after the hub's start listener: the channel needs the hub
        wechat_callback.register(app, wechat)
    return app


async def create_schema(store: Store, attempts: int = 5) -> None:
    """Idempotent; retried because several hub processes may start at the same moment."""
    for attempt in range(attempts):
        try:
            await store.create_schema()
            return
        except SQLAlchemyError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))
