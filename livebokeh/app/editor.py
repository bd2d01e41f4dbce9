"""``livebokeh edit``: the photo editor in the browser, served on this machine.

The page (``web/editor/``: plain HTML, CSS and JavaScript) talks to ``EditorServer``, which
keeps the rules of the live control page (``app.server.LocalServer``): loopback by default,
a token for any other address, the Host check against DNS rebinding, and state changes
only as ``application/json`` POSTs (photo uploads as ``application/octet-stream``, which a
cross-site form cannot send either). The work is ``app.editing.Editor``'s, run in worker
threads so the server stays responsive while a photo opens or exports.

API (ids such as ``p1`` come from opening):

* ``GET  /api/state``                   open photos, export folder, memory limit, features
* ``POST /api/open``        {path}      open a photo file on this machine
* ``POST /api/upload?name=FILE``        open the photo in the body (file picker, drag-and-drop)
* ``GET  /api/photos/ID/thumb.jpg``     the thumbnail
* ``POST /api/photos/ID/settings``      {style, strength, ...}: change settings
* ``POST /api/photos/ID/stroke``        {mode, points, radius, softness}: a brush stroke
* ``POST /api/photos/ID/undo`` / ``redo``
* ``POST /api/photos/ID/preview``       {size, view}: a JPEG of result, matte or original
* ``POST /api/photos/ID/person``        {x, y}: keep only that person sharp (people=main);
  {"people": "all"}: everyone sharp again
* ``POST /api/photos/ID/export``        {name, quality, overwrite}: full-size render
* ``POST /api/photos/ID/close``
* ``POST /api/apply-all``               {from: ID}: that photo's settings for every photo

Errors come back as ``{"error": "one line"}`` with 400 (bad input), 404 (no such photo),
409 (export would replace files), 413 (too large), 415 (wrong content type) or 501.
"""

from __future__ import annotations

import asyncio
import threading
import webbrowser
from pathlib import Path

from aiohttp import web

from livebokeh.app.editing import (
    DEFAULT_QUALITY,
    EXPORT_SUFFIXES,
    Editor,
    Exists,
    NotAvailable,
    NotFound,
    TooLarge,
    preview_side,
)
from livebokeh.app.server import LocalServer, parse_address, read_json
from livebokeh.errors import LivebokehError
from livebokeh.matte.brush import Stroke
from livebokeh.settings import STYLES

WEB = "web/editor"
MAX_UPLOAD = 512 * 2**20  # bytes: a 100-megapixel JPEG is about 50 MB, a 16-bit TIFF more
STATUS = ((NotFound, 404), (Exists, 409), (TooLarge, 413), (NotAvailable, 501),
          (LivebokehError, 400))


def _error(exc: LivebokehError) -> web.Response:
    status = next(code for kind, code in STATUS if isinstance(exc, kind))
    return web.json_response({"error": str(exc)}, status=status)


class EditorServer(LocalServer):
    """The editor's page and API around an ``Editor`` (see the module docstring)."""

    client_max_size = MAX_UPLOAD

    def __init__(self, editor: Editor, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None):
        super().__init__(host, port, token)
        self.editor = editor
        self.loading: list[str] = []  # photos named on the command line, still opening
        self.errors: list[str] = []  # what went wrong opening them, for the page

    def routes(self) -> list:
        photo = "/api/photos/{id}"
        return [
            web.get("/", self.page("index.html", WEB)),
            web.get("/static/{name}", self.static_files(WEB)),
            web.get("/api/state", self._state),
            web.post("/api/open", self._open),
            web.post("/api/upload", self._upload),
            web.get(photo + "/thumb.jpg", self._thumb),
            web.post(photo + "/settings", self._settings),
            web.post(photo + "/stroke", self._stroke),
            web.post(photo + "/undo", self._undo),
            web.post(photo + "/redo", self._redo),
            web.post(photo + "/preview", self._preview),
            web.post(photo + "/person", self._person),
            web.post(photo + "/export", self._export),
            web.post(photo + "/close", self._close),
            web.post("/api/apply-all", self._apply_all),
        ]

    def open_paths(self, paths) -> None:
        """Open photos named on the command line (in the caller's thread), one by one; the
        page lists them as loading until they are open, and shows any error."""
        self.loading = [str(path) for path in paths]
        for path in paths:
            try:
                self.editor.open_path(path)
            except LivebokehError as exc:
                self.errors.append(str(exc))
            finally:
                self.loading.remove(str(path))

    # -- handlers -----------------------------------------------------------------------------

    @staticmethod
    async def _call(function, *args, image: bool = False) -> web.Response:
        """Run ``function`` in a worker thread; its result as JSON (or JPEG), errors as JSON."""
        try:
            result = await asyncio.to_thread(function, *args)
        except LivebokehError as exc:
            return _error(exc)
        if image:
            return web.Response(body=result, content_type="image/jpeg",
                                headers={"Cache-Control": "no-store"})
        return web.json_response(result)

    def _photo_call(self, request: web.Request, method: str, *args):
        """Call ``PhotoEdit.method(*args)`` on the photo the URL names; its info back."""
        def run():
            photo = self.editor.photo(request.match_info["id"])
            getattr(photo, method)(*args)
            return photo.info()
        return self._call(run)

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response({
            "photos": [photo.info() for photo in list(self.editor.photos.values())],
            "loading": list(self.loading), "errors": list(self.errors),
            "out_dir": str(self.editor.out_dir), "limit": self.editor.pixel_limit()[1],
            "styles": list(STYLES), "formats": list(EXPORT_SUFFIXES),
            "quality": DEFAULT_QUALITY,
            "people": True})

    async def _open(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        if not isinstance(body.get("path"), str) or not body["path"].strip():
            return web.json_response({"error": "give the photo's path"}, status=400)
        return await self._call(lambda: self.editor.open_path(body["path"].strip()).info())

    async def _upload(self, request: web.Request) -> web.Response:
        if request.content_type != "application/octet-stream":
            return web.json_response({"error": "send the file as application/octet-stream"},
                                     status=415)
        name = request.query.get("name", "")
        try:
            data = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": f"{name}: the file is larger than the "
                                               f"{MAX_UPLOAD // 2**20} MiB uploads may have"},
                                     status=413)
        return await self._call(lambda: self.editor.open_data(data, name).info())

    async def _thumb(self, request: web.Request) -> web.Response:
        try:
            photo = self.editor.photo(request.match_info["id"])
        except NotFound as exc:
            return _error(exc)
        return web.Response(body=photo.thumbnail, content_type="image/jpeg")

    async def _settings(self, request: web.Request) -> web.Response:
        return await self._photo_call(request, "update", await read_json(request))

    async def _stroke(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        try:
            stroke = Stroke.parse(body)
        except LivebokehError as exc:
            return _error(exc)
        return await self._photo_call(request, "add_stroke", stroke)

    async def _undo(self, request: web.Request) -> web.Response:
        await read_json(request)
        return await self._photo_call(request, "undo")

    async def _redo(self, request: web.Request) -> web.Response:
        await read_json(request)
        return await self._photo_call(request, "redo")

    async def _preview(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        try:
            size = preview_side(body.get("size", 1280))
        except LivebokehError as exc:
            return _error(exc)
        return await self._call(self.editor.preview, request.match_info["id"], size,
                                str(body.get("view", "result")), image=True)

    async def _person(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        if body.get("people") == "all":  # everyone sharp again
            return await self._call(self.editor.set_people, request.match_info["id"], "all")
        try:
            x, y = float(body["x"]), float(body["y"])
        except (KeyError, TypeError, ValueError):
            return web.json_response({"error": "give the point as x and y (0..1)"}, status=400)
        return await self._call(self.editor.pick_person, request.match_info["id"], x, y)

    async def _export(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        try:
            quality = int(body.get("quality", DEFAULT_QUALITY))
        except (TypeError, ValueError):
            return web.json_response({"error": "quality must be a whole number 1..100"},
                                     status=400)
        return await self._call(self.editor.export, request.match_info["id"],
                                str(body.get("name", "")), quality,
                                bool(body.get("overwrite", False)))

    async def _close(self, request: web.Request) -> web.Response:
        await read_json(request)
        photo_id = request.match_info["id"]

        def close() -> dict:
            self.editor.close_photo(photo_id)
            return {"closed": photo_id}
        return await self._call(close)

    async def _apply_all(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        return await self._call(lambda: {"photos": self.editor.apply_to_all(
            str(body.get("from", "")))})


def run_editor(photos, serve: str = "127.0.0.1:0", token: str | None = None,
               out_dir: Path = Path("."), browser: bool = True, backend: str = "auto",
               depth_model: str | None = None, log=print) -> None:
    """Serve the editor until Ctrl-C; open ``photos`` once the page is up."""
    host, port = parse_address(serve)
    with Editor(out_dir, backend=backend, depth_model=depth_model) as editor:
        server = EditorServer(editor, host, port, token)
        server.loading = [str(path) for path in photos]  # listed from the first request on
        with server:
            url = server.url + (f"?token={token}" if token else "")
            log(f"livebokeh editor: {url}  (exports go to {editor.out_dir.resolve()}; "
                "Ctrl-C stops)")
            if browser:
                threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
            server.open_paths(list(photos))
            for message in server.errors:
                log(f"livebokeh: {message}")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                log("livebokeh editor stopped")

