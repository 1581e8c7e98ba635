"""Every bad input raises a clear error naming what was expected and what came, and the cache
still holds everything it held before."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from binary_semantic_cache import BinaryEncoder, BinarySemanticCache

from .conftest import DIM, unit


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"embedding_dim": 0}, "embedding_dim must be an integer from 1 to 65536, got 0"),
        ({"embedding_dim": 8, "code_bits": 0}, "code_bits must be an integer from 64 to 4096"),
        ({"embedding_dim": 8, "code_bits": 100}, "positive multiple of 64 up to 4096, got 100"),
    ],
)
def test_bad_encoder_arguments(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BinaryEncoder(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"similarity_threshold": 1.5}, r"within \[0, 1\], got 1.5"),
        ({"similarity_threshold": -0.1}, r"within \[0, 1\], got -0.1"),
        ({"max_entries": 0}, "max_entries must be an integer from 1 to 1\\d+, got 0"),
        ({"max_entries": -5}, "max_entries must be an integer from 1 to 1\\d+, got -5"),
        ({"ttl_seconds": -1.0}, "greater than 0, got -1"),
        ({"ttl_seconds": float("nan")}, "greater than 0, got NaN"),
    ],
)
def test_bad_cache_arguments(encoder: BinaryEncoder, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BinarySemanticCache(encoder, **kwargs)


BAD_CALLS: list[tuple[str, Callable[[BinarySemanticCache, np.ndarray], object], type, str]] = [
    (
        "wrong dimension",
        lambda c, v: c.put(v[:10], "x"),
        ValueError,
        f"10 dimensions, expected {DIM}",
    ),
    (
        "nan",
        lambda c, v: c.put(np.where(np.arange(DIM) == 3, np.nan, v), "x"),
        ValueError,
        "non-finite value \\(NaN\\) at index 3",
    ),
    (
        "inf",
        lambda c, v: c.get(np.where(np.arange(DIM) == 0, np.inf, v)),
        ValueError,
        "non-finite value \\(inf\\) at index 0",
    ),
    (
        "empty",
        lambda c, v: c.put(np.array([], dtype=np.float32), "x"),
        ValueError,
        f"0 dimensions, expected {DIM}",
    ),
    (
        "2-D to put",
        lambda c, v: c.put(np.stack([v, v]), "x"),
        ValueError,
        "expected a 1-D array \\(one embedding\\), got a 2-D array of shape \\(2, 64\\)",
    ),
    (
        "3-D to batch",
        lambda c, v: c.put_batch(np.zeros((2, 2, DIM)), ["a", "b"]),
        ValueError,
        "expected a 2-D array .* got a 3-D array of shape \\(2, 2, 64\\)",
    ),
    (
        "empty batch",
        lambda c, v: c.put_batch(np.zeros((0, DIM)), []),
        ValueError,
        "got an empty array",
    ),
    (
        "batch length",
        lambda c, v: c.put_batch(np.stack([v, v]), ["only one"]),
        ValueError,
        "one response per embedding \\(2\\), got 1",
    ),
    (
        "bad row in batch",
        lambda c, v: c.put_batch(np.stack([v, v * np.nan]), ["a", "b"]),
        ValueError,
        "non-finite",
    ),
    (
        "bad row in lookup batch",
        lambda c, v: c.get_batch(np.stack([v] * 1500 + [v * np.nan])),
        ValueError,
        "non-finite value \\(NaN\\) at index 0",
    ),
    (
        "1-D to lookup batch",
        lambda c, v: c.get_batch(v),
        ValueError,
        "expected a 2-D array .* got a 1-D array of shape \\(64\\)",
    ),
    (
        "lookup batch width",
        lambda c, v: c.get_batch(np.zeros((3, DIM + 1))),
        ValueError,
        f"{DIM + 1} .*expected {DIM}",
    ),
    ("ragged", lambda c, v: c.get([[1.0], [1.0, 2.0]]), ValueError, "expected an array of numbers"),
    ("strings", lambda c, v: c.get(["a", "b"]), TypeError, "real numbers .* got an array of <U1"),
    (
        "complex",
        lambda c, v: c.put(v.astype(np.complex64), "x"),
        TypeError,
        "real numbers .* got an array of complex64",
    ),
    (
        "objects",
        lambda c, v: c.put_batch(np.stack([v, v]).astype(object), ["a", "b"]),
        TypeError,
        "got an array of object",
    ),
    (
        "unserialisable",
        lambda c, v: c.put(v, object()),
        TypeError,
        "response must be str, bytes or JSON-serialisable, got object",
    ),
    ("nan response", lambda c, v: c.put(v, {"x": float("nan")}), TypeError, "JSON-serialisable"),
    (
        "negative ttl",
        lambda c, v: c.put(v, "x", ttl_seconds=-3),
        ValueError,
        "greater than 0, got -3",
    ),
    ("k zero", lambda c, v: c.search(v, k=0), ValueError, "k must be an integer from 1 to"),
    ("k float", lambda c, v: c.search(v, k=2.0), TypeError, "k must be an int, got float"),
    ("k 2**64", lambda c, v: c.search(v, k=2**64), ValueError, "got 18446744073709551616"),
    ("ttl str", lambda c, v: c.put(v, "x", ttl_seconds="9"), TypeError, "ttl_seconds .* got str"),
    ("delete -1", lambda c, v: c.delete(-1), ValueError, "id must be an integer from 0 to"),
    (
        "min_similarity",
        lambda c, v: c.search(v, min_similarity=2.0),
        ValueError,
        r"within \[0, 1\], got 2",
    ),
]


@pytest.mark.parametrize(
    ("name", "call", "error", "message"), BAD_CALLS, ids=[b[0] for b in BAD_CALLS]
)
def test_bad_calls_raise_and_lose_nothing(
    cache: BinarySemanticCache,
    rng: np.random.Generator,
    name: str,
    call: Any,
    error: type,
    message: str,
) -> None:
    xs = unit(rng, 5)
    for i, x in enumerate(xs):
        cache.put(x, f"kept-{i}")
    before = (len(cache), cache.ids())
    with pytest.raises(error, match=message):
        call(cache, unit(rng, 1)[0])
    assert (len(cache), cache.ids()) == before
    for i, x in enumerate(xs):
        hit = cache.get(x)
        assert hit is not None and hit.response == f"kept-{i}"


# Each runs in a child process: before they were checked, some aborted the interpreter
# (search with k=10**12 asked for a 24 TB buffer), which would take pytest down with it.
EXTREMES = [
    ("search k=10**12", "c.search(v, k=10**12)", None),
    ("search k=2**64", "c.search(v, k=2**64)", "ValueError: k must be an integer"),
    ("search k=-1", "c.search(v, k=-1)", "ValueError: k must be an integer"),
    ("max_entries=2**64", "C(e, max_entries=2**64)", "ValueError: max_entries must be"),
    ("max_entries=True", "C(e, max_entries=True)", "TypeError: max_entries must be an int"),
    ("ttl_seconds=10**400", "C(e, ttl_seconds=10**400)", "ValueError: ttl_seconds must be"),
    ("ttl_seconds=1e308", "c.put(v, 'x', ttl_seconds=1e308)", None),
    ("threshold=10**400", "C(e, similarity_threshold=10**400)", "ValueError: similarity_"),
    ("flush_interval=-1", "C(e, flush_interval_seconds=-1.0)", "ValueError: flush_interval"),
    ("durability without path", "C(e, durability='bogus')", "ValueError: durability must be"),
    ("embedding_dim=10**9", "E(10**9)", "ValueError: embedding_dim must be"),
    ("code_bits=2**40", "E(8, code_bits=2**40)", "ValueError: code_bits must be"),
    ("seed=-1", "E(8, seed=-1)", "ValueError: seed must be"),
    ("delete id=2**64", "c.delete(2**64)", "ValueError: id must be"),
    ("complex", "c.get(v.astype(complex))", "TypeError: expected an array of real numbers"),
]

CHILD = """
import sys, warnings
import numpy as np
from binary_semantic_cache import BinaryEncoder as E, BinarySemanticCache as C
warnings.simplefilter("error")
e = E(8)
c = C(e)
v = np.ones(8, dtype=np.float32)
c.put(v, "kept")
try:
    result = eval(sys.argv[1])
except Exception as err:
    print(f"{type(err).__name__}: {err}"[:200])
else:
    print("returned", type(result).__name__)
# the process goes on, and the cache still answers
assert c.get(v).response == "kept"
print("alive")
"""


@pytest.mark.parametrize(("name", "call", "error"), EXTREMES, ids=[x[0] for x in EXTREMES])
def test_extreme_arguments_raise_and_the_process_goes_on(
    name: str, call: str, error: str | None
) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, call], capture_output=True, text=True, timeout=60
    )
    assert child.returncode == 0, f"{name}: exit {child.returncode}, {child.stderr[-500:]}"
    first, last = child.stdout.splitlines()
    assert last == "alive"
    if error is None:
        assert first.startswith("returned"), first
    else:
        assert first.startswith(error), first


def test_a_directory_others_can_read_gets_a_warning(
    encoder: BinaryEncoder, tmp_path: Path, recwarn: pytest.WarningsRecorder
) -> None:
    shared, private = tmp_path / "shared", tmp_path / "private"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.warns(UserWarning, match=r"has mode 0755: other users can read .* expected 0700"):
        BinarySemanticCache(encoder, path=shared).close()
    recwarn.clear()
    BinarySemanticCache(encoder, path=private).close()  # created 0700 here
    assert private.stat().st_mode & 0o777 == 0o700
    assert not [w for w in recwarn if "mode" in str(w.message)]
