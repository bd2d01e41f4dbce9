"""Fuzz: 300 mutations of real image and video files through ``livebokeh photo`` and ``video``.

Each mutation of a small seed file (tests/fuzz/seeds: the portrait as JPEG, PNG with alpha and
WebP; an 8-frame clip as H.264/AAC in MP4 and MKV and VP9/Opus in WebM) flips bytes,
truncates, swaps or repeats chunks, zeroes a stretch or inserts random bytes (one to three
of these), from a fixed seed. Every mutated file runs through the real command line as its own
process (two at a time) and must, within 10 s, either finish cleanly (exit 0, an output, no
error line) or fail with exactly one ``livebokeh: error:`` line and exit 1 (no output). A
traceback, a hang or a crash (a signal, such as a segfault inside a native decoder) fails.
Nothing is left behind either way (no temp file).

A mutated file that ever fails is kept in tests/fuzz/regressions and replayed first, every run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

FUZZ = Path(__file__).parent / "fuzz"
SEEDS = FUZZ / "seeds"
REGRESSIONS = FUZZ / "regressions"
SEED = 20261201
RUNS = 300
TIME_LIMIT_S = 10.0
PARALLEL = 2  # the two cores
IMAGE_TYPES = {".jpg", ".png", ".webp"}


@dataclass(frozen=True)
class Mutant:
    name: str  # NNN-<seed>-<operations>, the file name it is kept under if it ever fails
    suffix: str
    data: bytes

    @property
    def command(self) -> str:
        return "photo" if self.suffix in IMAGE_TYPES else "video"


def _span(rng: np.random.Generator, size: int, most: int) -> tuple[int, int]:
    length = int(rng.integers(1, max(2, min(most, size // 4))))
    return int(rng.integers(0, max(1, size - length))), length


def mutate(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """``data`` with one to three random mutations, and their names."""
    data = bytearray(data)
    names = []
    for _ in range(int(rng.integers(1, 4))):
        op = str(rng.choice(["flip", "truncate", "swap", "repeat", "zero", "insert"]))
        names.append(op)
        if op == "flip":  # a few bytes anywhere, bits flipped
            for at in rng.integers(0, len(data), int(rng.integers(1, 16))):
                data[at] ^= int(rng.integers(1, 256))
        elif op == "truncate":
            del data[int(rng.integers(1, len(data))):]
        elif op == "swap":  # two chunks trade places
            (a, n), (b, _) = _span(rng, len(data), 2048), _span(rng, len(data), 2048)
            first, second = bytes(data[a:a + n]), bytes(data[b:b + n])
            if len(first) == len(second) and (a + n <= b or b + n <= a):
                data[a:a + n], data[b:b + n] = second, first
        elif op == "repeat":  # a chunk written twice
            at, n = _span(rng, len(data), 4096)
            data[at:at] = data[at:at + n]
        elif op == "zero":
            at, n = _span(rng, len(data), 4096)
            data[at:at + n] = bytes(n)
        else:  # insert random bytes
            at, n = _span(rng, len(data), 1024)
            data[at:at] = rng.bytes(n)
        if len(data) < 2:
            data = bytearray(b"\0\0")
    return bytes(data), "+".join(names)


def mutants(count: int = RUNS, seed: int = SEED) -> list[Mutant]:
    """The fixed corpus: seeds taken in turn, mutations drawn from one seeded generator."""
    rng = np.random.default_rng(seed)
    seeds = sorted(SEEDS.iterdir())
    found = []
    for index in range(count):
        source = seeds[index % len(seeds)]
        data, ops = mutate(source.read_bytes(), rng)
        found.append(Mutant(f"{index:03d}-{source.stem}-{ops}", source.suffix, data))
    return found


def verdict(path: Path, command: str, folder: Path) -> str | None:
    """None if ``livebokeh COMMAND path`` behaved; else what went wrong, in one line."""
    out = folder / ("out.png" if command == "photo" else "out.mp4")
    try:
        done = subprocess.run([sys.executable, "-m", "livebokeh", command, str(path), "-o",
                               str(out)], capture_output=True, text=True,
                              timeout=TIME_LIMIT_S)
    except subprocess.TimeoutExpired:
        return f"hang: no result within {TIME_LIMIT_S:g} s"
    stderr = done.stderr
    left = sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
    errors = [line for line in stderr.splitlines() if line.startswith("livebokeh: error:")]
    if done.returncode < 0:
        return f"crash: killed by signal {-done.returncode}"
    if "Traceback" in stderr:
        return "traceback: " + stderr.strip().splitlines()[-1]
    if left:
        return f"temp files left: {left}"
    if done.returncode == 0:
        return None if out.is_file() and not errors else f"exit 0 but {errors or 'no output'}"
    if done.returncode == 1 and len(errors) == 1 and not out.exists():
        return None
    return f"exit {done.returncode}: {stderr.strip()[-300:]}"


def run_all(cases: list[tuple[str, Path, str]], tmp_path: Path) -> dict[str, str]:
    """Run each (name, file, command) as its own process, two at a time; failures by name."""
    def one(item):
        name, path, command = item
        folder = tmp_path / name
        folder.mkdir()
        return name, verdict(path, command, folder)

    with ThreadPoolExecutor(PARALLEL) as pool:
        return {name: why for name, why in pool.map(one, cases) if why is not None}


def test_mutations_are_deterministic_and_varied():
    first, again = mutants(40), mutants(40)
    assert first == again  # fixed seed: the same corpus on every machine
    assert len({m.data for m in first}) == 40
    ops = {op for m in first for op in m.name.split("-", 2)[2].split("+")}
    assert ops == {"flip", "truncate", "swap", "repeat", "zero", "insert"}
    assert {m.command for m in first} == {"photo", "video"}


def test_regressions_stay_fixed(tmp_path):
    """Every file that ever failed the fuzzer, replayed."""
    kept = sorted(p for p in REGRESSIONS.iterdir() if p.suffix != ".md")
    cases = [(p.stem, p, "photo" if p.suffix in IMAGE_TYPES else "video") for p in kept]
    assert run_all(cases, tmp_path) == {}


def test_fuzz_photo_and_video(tmp_path):
    corpus = mutants()
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    cases = []
    for mutant in corpus:
        path = inputs / f"{mutant.name}{mutant.suffix}"
        path.write_bytes(mutant.data)
        cases.append((mutant.name, path, mutant.command))
    failures = run_all(cases, tmp_path)
    for name in failures:  # keep it as a regression case (commit it with the fix)
        shutil.copy(inputs / f"{name}{next(m.suffix for m in corpus if m.name == name)}",
                    REGRESSIONS)
    assert not failures, "\n".join(f"{name}: {why}" for name, why in sorted(failures.items()))


if __name__ == "__main__":
    pytest.main([__file__, "-q"])
