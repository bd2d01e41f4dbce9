"""Local HTTP server for the live camera: MJPEG output, a transparent overlay, a control page.

``livebokeh cam --serve 127.0.0.1:8787`` runs this beside the camera loop (aiohttp in its own
thread and event loop; the loop thread never waits on a viewer). Endpoints:

* ``/``               control page: live preview, style, strength, blades, grain, background,
                      blur on/off; click the preview to set the focus point (lens style).
* ``/stream.mjpg``    the output as MJPEG (``multipart/x-mixed-replace`` of JPEGs): an OBS
                      Media Source (input ``http://127.0.0.1:8787/stream.mjpg``) or any browser.
* ``/overlay``        a transparent page for an OBS Browser Source: the subject only, as a
                      multipart stream of PNGs with alpha (``/overlay.stream``) in an ``<img>``.
                      OBS's Browser Source (Chromium) renders it with transparency; no custom
                      CSS is needed.
* ``/frame.jpg``      the latest output frame once (snapshot).
* ``/api/settings``   GET: current settings as JSON; POST a JSON object of changes (400 with a
                      one-line message if invalid). Applied from the next frame on.

Security: binding to anything but loopback needs a token; with a token every request must
carry it (``Authorization: Bearer TOKEN``, ``X-Livebokeh-Token`` header or ``?token=``), else
401. Without a token, requests must name a loopback host (DNS-rebinding guard) and setting
changes must be ``application/json`` (a cross-site form cannot send that without CORS, which
the server never grants).

Frames are encoded once per frame whatever the number of viewers, only while someone
watches, in worker threads (``cv2.imencode`` releases the GIL).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import ipaddress
import threading
import time
from importlib import resources

import cv2
import numpy as np
from aiohttp import web

from livebokeh.errors import LivebokehError
from livebokeh.render.background import cutout
from livebokeh.settings import BokehSettings

BOUNDARY = "livebokehframe"
JPEG_QUALITY = 80
PNG_COMPRESSION = 1  # zlib level: fast; overlay frames are mostly empty alpha anyway
LIVE_FIELDS = ("style", "strength", "blades", "grain", "background", "focus", "people",
               "subject")


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT`` → (host, port); port 0 picks a free port."""
    host, sep, port = str(text).rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise LivebokehError(f"--serve must be HOST:PORT (e.g. 127.0.0.1:8787), got '{text}'")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LiveControl:
    """Settings shared between the HTTP server (writes) and the camera loop (reads per frame).

    ``update`` validates a change by building new ``BokehSettings`` (errors → LivebokehError)
    and swaps them in under a lock; the loop calls ``take`` once per frame and gets the new
    settings only when they changed. ``enabled`` False means: pass frames through unblurred.
    """

    def __init__(self, settings: BokehSettings):
        self._lock = threading.Lock()
        self._settings = settings
        self._enabled = True
        self._version = 0
        self._taken = 0

    @property
    def settings(self) -> BokehSettings:
        with self._lock:
            return self._settings

    @property
    def enabled(self) -> bool:
        with self._lock:
            return self._enabled

    def snapshot(self) -> dict:
        """The live-editable values as JSON-ready data."""
        with self._lock:
            values = {name: getattr(self._settings, name) for name in LIVE_FIELDS}
            values["enabled"] = self._enabled
        return values

    def update(self, changes: dict) -> dict:
        """Apply ``changes`` (a subset of LIVE_FIELDS plus ``enabled``); returns the snapshot."""
        unknown = set(changes) - set(LIVE_FIELDS) - {"enabled"}
        if unknown:
            raise LivebokehError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        fields = {key: value for key, value in changes.items() if key != "enabled"}
        if fields.get("subject") is not None:
            fields["subject"] = _point(fields["subject"])
        with self._lock:
            try:
                settings = dataclasses.replace(self._settings, **fields)
            except (TypeError, ValueError) as exc:
                raise LivebokehError(f"invalid setting: {exc}") from None
            self._settings = settings
            if "enabled" in changes:
                self._enabled = bool(changes["enabled"])
            self._version += 1
        return self.snapshot()

    def take(self) -> BokehSettings | None:
        """New settings since the last call, or None (for the loop, once per frame)."""
        with self._lock:
            if self._version == self._taken:
                return None
            self._taken = self._version
            return self._settings


def _point(value) -> tuple[float, float]:
    """An (x, y) pair from JSON: [x, y] or "x,y" (fractions); LivebokehError otherwise."""
    try:
        x, y = (float(v) for v in (value.split(",") if isinstance(value, str) else value))
    except (TypeError, ValueError):
        raise LivebokehError(f"subject must be X,Y (fractions), got {value!r}") from None
    return x, y


@dataclasses.dataclass
class _Frame:
    seq: int
    time: float  # time.time() when the pipeline handed the frame over
    output: np.ndarray  # RGB uint8
    source: np.ndarray | None  # RGB uint8 input frame (overlay viewers only)
    matte: np.ndarray | None  # float32 0..1 (overlay viewers only)


class FrameHub:
    """The latest frame for HTTP viewers, handed over by the camera loop with ``publish``.

    ``publish`` costs one frame copy while someone watches (and nothing otherwise); encoding
    happens in the server's worker threads, once per frame and format, cached by sequence.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._frame: _Frame | None = None
        self._encoded: dict[str, tuple[int, bytes]] = {}
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self.viewers = 0
        self.overlay_viewers = 0

    @property
    def watched(self) -> bool:
        return self.viewers + self.overlay_viewers > 0

    def publish(self, output: np.ndarray, source: np.ndarray | None = None,
                matte: np.ndarray | None = None) -> None:
        """Hand over one frame (RGB uint8 output; input RGB and matte feed the overlay)."""
        if not self.watched and self._frame is not None:
            return
        overlay = self.overlay_viewers > 0 and source is not None and matte is not None
        with self._lock:
            seq = self._frame.seq + 1 if self._frame is not None else 1
            self._frame = _Frame(seq, time.time(), output.copy(),
                                 source.copy() if overlay else None,
                                 matte.copy() if overlay else None)
            waiters = list(self._waiters)
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    def latest(self) -> _Frame | None:
        with self._lock:
            return self._frame

    async def next_frame(self, after: int) -> _Frame:
        """Wait for a frame newer than sequence ``after`` (skipping any a slow viewer missed)."""
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self._lock:
            self._waiters.append(entry)
        try:
            while True:
                frame = self.latest()
                if frame is not None and frame.seq > after:
                    return frame
                await event.wait()
                event.clear()
        finally:
            with self._lock:
                self._waiters.remove(entry)

    def encoded(self, frame: _Frame, kind: str) -> bytes:
        """``frame`` as "jpeg" (output) or "png" (subject with alpha), encoded once."""
        with self._lock:
            cached = self._encoded.get(kind)
        if cached is not None and cached[0] == frame.seq:
            return cached[1]
        data = _encode_jpeg(frame.output) if kind == "jpeg" else _encode_overlay(frame)
        with self._lock:
            self._encoded[kind] = (frame.seq, data)
        return data


class LiveServer:
    """What ``livebokeh cam --serve`` adds to the live loop: hub, live settings, HTTP server.

    The loop calls ``take_settings`` before each frame and ``publish`` after it.
    """

    def __init__(self, address: str, settings: BokehSettings, token: str | None = None):
        host, port = parse_address(address)
        self.hub, self.control = FrameHub(), LiveControl(settings)
        self.http = ControlServer(self.hub, self.control, host, port, token)

    @property
    def url(self) -> str:
        return self.http.url

    def start(self) -> LiveServer:
        self.http.start()
        return self

    def close(self) -> None:
        self.http.stop()

    def take_settings(self) -> BokehSettings | None:
        return self.control.take()

    @property
    def enabled(self) -> bool:
        return self.control.enabled

    def publish(self, output: np.ndarray, source: np.ndarray | None = None,
                matte: np.ndarray | None = None) -> None:
        self.hub.publish(output, source, matte)


def _encode_jpeg(rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return data.tobytes()


def _encode_overlay(frame: _Frame) -> bytes:
    """PNG with alpha: the decontaminated subject colour and the matte (see background)."""
    if frame.source is None:  # the frame came before the first overlay viewer
        height, width = frame.output.shape[:2]
        bgra = np.zeros((height, width, 4), np.uint8)
    else:
        colour, alpha = cutout(frame.source, frame.matte)
        bgra = cv2.cvtColor(colour, cv2.COLOR_RGB2BGRA)
        bgra[..., 3] = alpha
        # fully transparent pixels as zeros: a third faster to compress, a third smaller
        bgra = cv2.bitwise_and(bgra, bgra, mask=alpha)
    ok, data = cv2.imencode(".png", bgra, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
    return data.tobytes()


def _static(name: str, folder: str = "web") -> bytes:
    return resources.files("livebokeh.app").joinpath(folder, name).read_bytes()


CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


class LocalServer:
    """An aiohttp app in a background thread, with the rules every livebokeh page keeps.

    Loopback by default; any other address needs a token, and with a token every request
    must carry it. Without one, requests must name a loopback host (DNS-rebinding guard).
    Subclasses list their routes in ``routes``; ``start()`` returns once it listens.
    """

    client_max_size = 1024 ** 2  # bytes of a request body (aiohttp's default)

    def __init__(self, host: str = "127.0.0.1", port: int = 8787, token: str | None = None):
        if not is_loopback(host) and not token:
            raise LivebokehError(f"serving on {host} (not loopback) needs --token; anyone on "
                                 "the network could watch and change settings otherwise")
        self.token = token or None
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    def routes(self) -> list:
        raise NotImplementedError

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self):
        self._thread = threading.Thread(target=self._run, name="livebokeh-server", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise LivebokehError(f"cannot serve on {self.host}:{self.port}: "
                                 f"{self._error}") from None
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._listen())
        except OSError as exc:
            self._error = exc
        self._started.set()
        if self._error is None:
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    async def _listen(self) -> None:
        app = web.Application(middlewares=[self._guard], client_max_size=self.client_max_size)
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    # -- security ---------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler):
        if self.token is not None:
            if not self._has_token(request):
                return web.json_response({"error": "missing or wrong token"}, status=401,
                                         headers={"WWW-Authenticate": "Bearer"})
        elif not is_loopback(request.url.host or ""):
            return web.json_response({"error": "host not allowed"}, status=403)
        return await handler(request)

    def _has_token(self, request: web.Request) -> bool:
        given = request.query.get("token") or request.headers.get("X-Livebokeh-Token", "")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            given = auth[len("Bearer "):]
        return hmac.compare_digest(given.encode(), self.token.encode())

    # -- static files -----------------------------------------------------------------------

    @staticmethod
    def page(name: str, folder: str = "web"):
        """A handler serving the HTML page ``folder/name`` (never cached)."""
        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=_static(name, folder), content_type="text/html",
                                headers={"Cache-Control": "no-store"})
        return handler

    @staticmethod
    def static_files(folder: str = "web"):
        """A handler for ``/static/{name}``: .html, .js and .css files of ``folder`` only."""
        async def handler(request: web.Request) -> web.Response:
            name = request.match_info["name"]
            kind = CONTENT_TYPES.get(name[name.rfind("."):]) if "." in name else None
            if kind is None or "/" in name or name.startswith("."):
                raise web.HTTPNotFound()
            try:
                body = _static(name, folder)
            except FileNotFoundError:
                raise web.HTTPNotFound() from None
            return web.Response(body=body, content_type=kind)
        return handler


async def read_json(request: web.Request) -> dict:
    """The JSON object a POST carries; ``web.HTTPException`` with a JSON error otherwise.

    Requiring ``application/json`` keeps cross-site forms out: a browser sends that type
    cross-origin only after a CORS preflight, which these servers never grant.
    """
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text='{"error": "send application/json"}',
                                           content_type="application/json")
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error": "expected a JSON object"}',
                                 content_type="application/json")
    return body


class ControlServer(LocalServer):
    """The live control page, streams and settings API (see the module docstring)."""

    def __init__(self, hub: FrameHub, control: LiveControl, host: str = "127.0.0.1",
                 port: int = 8787, token: str | None = None):
        super().__init__(host, port, token)
        self.hub, self.control = hub, control

    def routes(self) -> list:
        return [
            web.get("/", self.page("index.html")),
            web.get("/overlay", self.page("overlay.html")),
            web.get("/static/{name}", self.static_files()),
            web.get("/stream.mjpg", self._stream_jpeg),
            web.get("/overlay.stream", self._stream_overlay),
            web.get("/frame.jpg", self._snapshot),
            web.get("/api/settings", self._get_settings),
            web.post("/api/settings", self._post_settings),
        ]

    # -- API ------------------------------------------------------------------------------

    async def _get_settings(self, request: web.Request) -> web.Response:
        return web.json_response(self.control.snapshot())

    async def _post_settings(self, request: web.Request) -> web.Response:
        changes = await read_json(request)
        try:
            return web.json_response(self.control.update(changes))
        except (ValueError, LivebokehError) as exc:
            return web.json_response({"error": str(exc)}, status=400)

    # -- streams ----------------------------------------------------------------------------

    async def _snapshot(self, request: web.Request) -> web.Response:
        latest = self.hub.latest()
        self.hub.viewers += 1  # frames are only handed over while someone watches
        try:
            frame = await asyncio.wait_for(
                self.hub.next_frame(latest.seq if latest is not None else 0), timeout=10)
        except asyncio.TimeoutError:
            raise web.HTTPServiceUnavailable(text="no frame from the camera") from None
        finally:
            self.hub.viewers -= 1
        data = await asyncio.to_thread(self.hub.encoded, frame, "jpeg")
        return web.Response(body=data, content_type="image/jpeg",
                            headers={"Cache-Control": "no-store"})

    async def _stream_jpeg(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, "jpeg", "image/jpeg")

    async def _stream_overlay(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, "png", "image/png")

    async def _stream(self, request: web.Request, kind: str, part_type: str):
        """Multipart stream: each part is one frame; a slow viewer skips frames, never lags."""
        response = web.StreamResponse(headers={
            "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            "Cache-Control": "no-store", "Pragma": "no-cache"})
        await response.prepare(request)
        counter = "overlay_viewers" if kind == "png" else "viewers"
        setattr(self.hub, counter, getattr(self.hub, counter) + 1)
        seq = 0
        try:
            while True:
                frame = await self.hub.next_frame(seq)
                seq = frame.seq
                data = await asyncio.to_thread(self.hub.encoded, frame, kind)
                head = (f"--{BOUNDARY}\r\nContent-Type: {part_type}\r\n"
                        f"Content-Length: {len(data)}\r\nX-Frame-Time: {frame.time:.6f}\r\n"
                        f"X-Frame-Seq: {frame.seq}\r\n\r\n")
                await response.write(head.encode() + data + b"\r\n")
        except ConnectionResetError:  # the viewer left
            pass
        finally:
            setattr(self.hub, counter, getattr(self.hub, counter) - 1)
        return response
