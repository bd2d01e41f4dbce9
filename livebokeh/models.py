"""Where model files come from: one resolver for every model, and the depth-model fetch.

Lookup order for a model: explicit path > ``$LIVEBOKEH_MODEL_DIR`` > user cache dir >
files shipped inside the package. Known files are checked against their pinned sha256 when
they are loaded, so a truncated download or a swapped file is an error, not a wrong result.
Nothing here touches the network unless ``fetch_model`` is called.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from livebokeh.errors import LivebokehError, write_error

PACKAGED_DIR = Path(__file__).resolve().parent / "data"
MODEL_DIR_ENV = "LIVEBOKEH_MODEL_DIR"


@dataclass(frozen=True)
class ModelSpec:
    """A model livebokeh knows by name: its file, pinned digest, licence and origin."""

    name: str
    filename: str
    sha256: str
    license: str
    description: str
    url: str | None = None  # pinned download for models that are not shipped


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "selfie", "selfie_segmentation.tflite",
            "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
            "Apache-2.0", "MediaPipe selfie segmentation, general (256x256)",
        ),
        ModelSpec(
            "selfie-landscape", "selfie_segmentation_landscape.tflite",
            "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
            "Apache-2.0", "MediaPipe selfie segmentation, landscape (144x256)",
        ),
        ModelSpec(
            "face", "face_detection_short_range.tflite",
            "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
            "Apache-2.0", "MediaPipe BlazeFace short range (128x128)",
        ),
        ModelSpec(
            "depth", "tcmonodepth_tcsmallnet_192x320.onnx",
            "902b886beaebd3f68deb40bab2fd636a0c112c1ef1cbdd15fa26e5c55b389b4d",
            "MIT", "TCMonoDepth small, relative inverse depth (192x320)",
            url=(
                "https://github.com/royshil/obs-backgroundremoval/raw/"
                "875ffda175fcb066380b31797c63630c8b4a3c71/data/models/"
                "tcmonodepth_tcsmallnet_192x320.onnx"
            ),
        ),
    )
}


@dataclass(frozen=True)
class ResolvedModel:
    """A model file found on disk and where the resolver found it."""

    spec: ModelSpec | None
    path: Path
    origin: str  # "path", "env", "cache" or "package"


def cache_dir() -> Path:
    """The per-user folder where fetched models live (e.g. ~/.cache/livebokeh/models)."""
    return Path(platformdirs.user_cache_dir("livebokeh")) / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _candidates(spec: ModelSpec) -> list[tuple[Path, str]]:
    found = []
    env_dir = os.environ.get(MODEL_DIR_ENV)
    if env_dir:
        found.append((Path(env_dir) / spec.filename, "env"))
    found.append((cache_dir() / spec.filename, "cache"))
    found.append((PACKAGED_DIR / spec.filename, "package"))
    return found


def find_model(name: str, path: str | os.PathLike | None = None) -> ResolvedModel | None:
    """Locate model ``name`` without verifying it; None when it is nowhere to be found."""
    spec = REGISTRY[name]
    if path is not None:
        explicit = Path(path)
        if not explicit.is_file():
            raise LivebokehError(f"model file not found: {explicit}")
        return ResolvedModel(None, explicit, "path")
    for candidate, origin in _candidates(spec):
        if candidate.is_file():
            return ResolvedModel(spec, candidate, origin)
    return None


def resolve_model(name: str, path: str | os.PathLike | None = None) -> ResolvedModel:
    """Locate model ``name`` and verify a known file's sha256; raise if it is missing or bad.

    A file given by explicit path is the user's own model and is not checked against the pin.
    """
    resolved = find_model(name, path)
    if resolved is None:
        hint = " (run: livebokeh models fetch)" if REGISTRY[name].url else ""
        raise LivebokehError(f"model '{name}' not found{hint}")
    if resolved.spec is not None and sha256_of(resolved.path) != resolved.spec.sha256:
        raise LivebokehError(
            f"model file {resolved.path} is corrupt or not the expected version "
            f"(sha256 mismatch); delete it and fetch it again"
        )
    return resolved


FETCH_SCHEMES = ("http", "https", "ftp")


def _download_failure(name: str, source: str, exc: OSError) -> LivebokehError:
    """One line for a failed download: HTTP status, unreachable host, or the OS error."""
    import requests

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        reason = f"the server answered HTTP {exc.response.status_code} {exc.response.reason}"
    elif isinstance(exc, requests.ConnectionError):
        reason = "could not connect (offline, wrong address or server down)"
    elif isinstance(exc, requests.Timeout):
        reason = "the server did not answer in time"
    else:
        reason = str(exc)
    return LivebokehError(f"download of '{name}' from {source} failed: {reason}")


def verified_cache_copy(name: str) -> Path | None:
    """The user-cache copy of model ``name`` if it is there and matches its pin, else None."""
    spec = REGISTRY[name]
    target = cache_dir() / spec.filename
    return target if target.is_file() and sha256_of(target) == spec.sha256 else None


def fetch_model(name: str = "depth", url: str | None = None, progress: bool = True,
                force: bool = False) -> Path:
    """Download model ``name`` into the user cache, verifying its pinned sha256.

    ``url`` overrides the pinned address (a mirror, or a local server in tests); the digest
    is checked either way. An existing verified file is kept unless ``force``. The download
    goes to a staging folder inside the cache dir and is moved into place only once
    verified, so a failed, wrong or interrupted download leaves no file behind and never
    replaces a good one.
    """
    import tempfile
    from urllib.parse import urlparse

    import pooch

    spec = REGISTRY[name]
    source = url or spec.url
    if source is None:
        raise LivebokehError(f"model '{name}' ships with livebokeh; there is nothing to fetch")
    if urlparse(source).scheme not in FETCH_SCHEMES:
        raise LivebokehError(f"cannot download from '{source}': use an http(s) or ftp address")
    target = verified_cache_copy(name)
    if target is not None and not force:
        return target
    target = cache_dir() / spec.filename
    pooch.get_logger().setLevel("WARNING")  # its "Downloading ... to <staging path>" misleads
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as staging:
            fetched = pooch.retrieve(
                source, known_hash=f"sha256:{spec.sha256}", fname=spec.filename,
                path=staging, progressbar=progress,
            )
            _fsync(fetched)  # a full or failing disk reports it now, before the rename
            os.replace(fetched, target)
    except ValueError:  # pooch raises ValueError on a digest mismatch
        raise LivebokehError(
            f"download of '{name}' from {source} is not the expected file "
            f"(sha256 mismatch); nothing was saved"
        ) from None
    except OSError as exc:  # requests' errors are OSErrors too
        if _from_the_network(exc):
            raise _download_failure(name, source, exc) from None
        raise write_error(target, exc) from None
    return target


def _from_the_network(exc: OSError) -> bool:
    """True for a download's own failure; False for the OS refusing to write the file."""
    import requests

    return isinstance(exc, requests.RequestException) or exc.errno is None


def _fsync(path: str | os.PathLike) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def describe_models() -> list[str]:
    """One line per known model: where it was found (or how to get it), size and licence."""
    lines = []
    for spec in REGISTRY.values():
        found = find_model(spec.name)
        if found is None:
            where = "MISSING (optional: run 'livebokeh models fetch')"
            size = "-"
        else:
            ok = sha256_of(found.path) == spec.sha256
            check = "sha256 ok" if ok else "CORRUPT (sha256 mismatch: delete it or fetch again)"
            where = f"{found.origin}: {found.path}  {check}"
            size = f"{found.path.stat().st_size / 1024:.0f} KiB"
        lines.append(f"{spec.name:17} {spec.license:11} {size:>9}  {where}")
        lines.append(f"{'':17} {spec.description}")
    return lines
