"""``BinaryByteStore``: LangChain's standard store suites, CacheBackedEmbeddings on top of it,
persistence, bounds, lifetimes, and damaged files."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from langchain_classic.embeddings import CacheBackedEmbeddings
from langchain_core.stores import BaseStore
from langchain_tests.integration_tests import BaseStoreAsyncTests, BaseStoreSyncTests

from binary_semantic_cache import CorruptCacheError, UnsupportedFormatError
from bsc_langchain import BinaryByteStore, BSCEmbeddings
from tests.langchain.conftest import CountingEmbedder

THREE = (b"foo", b"bar", b"buzz")


class _Fixtures:
    @pytest.fixture
    def kv_store(self) -> BaseStore[str, bytes]:
        return BinaryByteStore()

    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return THREE


class TestBinaryByteStoreSync(_Fixtures, BaseStoreSyncTests[bytes]):
    pass


# Marked for pytest-asyncio's strict mode; the suite's one plain test does not mind the mark.
@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:The test <Function test_no_overrides:pytest.PytestWarning")
class TestBinaryByteStoreAsync(_Fixtures, BaseStoreAsyncTests[bytes]):
    pass


def _filled(path: Path | None = None, **kwargs: float) -> BinaryByteStore:
    store = BinaryByteStore(path, **kwargs)  # type: ignore[arg-type]
    store.mset([("a", b"1"), ("b", b"\x00\xff" * 100), ("ключ", b"")])
    return store


def test_cache_backed_embeddings_embed_each_text_once_across_processes(
    embedder: CountingEmbedder, tmp_path: Path
) -> None:
    texts = ["Paris is the capital of France.", "Berlin is the capital of Germany."]
    underlying = BSCEmbeddings(embedder)
    store = BinaryByteStore(tmp_path)
    cached = CacheBackedEmbeddings.from_bytes_store(
        underlying, store, namespace="minilm", key_encoder="sha256"
    )
    before = len(embedder.texts)
    first = cached.embed_documents(texts)
    assert embedder.texts[before:] == texts
    assert cached.embed_documents(texts) == first
    assert len(embedder.texts) == before + 2
    store.persist()

    reopened = BinaryByteStore(tmp_path)
    again = CacheBackedEmbeddings.from_bytes_store(
        underlying, reopened, namespace="minilm", key_encoder="sha256"
    )
    assert again.embed_documents(texts) == first
    assert len(embedder.texts) == before + 2  # nothing embedded in the "new process"
    assert len(list(reopened.yield_keys(prefix="minilm"))) == 2


def test_persist_and_load_keep_keys_values_and_order(tmp_path: Path) -> None:
    store = _filled(tmp_path)
    store.mget(["a"])  # now the most recently used
    store.persist()
    loaded = BinaryByteStore(tmp_path)
    assert list(loaded.yield_keys()) == ["b", "ключ", "a"]
    assert loaded.mget(["a", "b", "ключ", "none"]) == [b"1", b"\x00\xff" * 100, b"", None]


def test_the_bound_drops_the_least_recently_used() -> None:
    store = BinaryByteStore(max_entries=2)
    store.mset([("a", b"1"), ("b", b"2")])
    store.mget(["a"])
    store.mset([("c", b"3")])
    assert store.mget(["a", "b", "c"]) == [b"1", None, b"3"]
    assert len(store) == 2


def test_entries_expire_and_the_expiry_survives_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)
    store = _filled(tmp_path, ttl_seconds=60)
    store.persist()
    monkeypatch.setattr(time, "time", lambda: now + 30)
    assert BinaryByteStore(tmp_path).mget(["a"]) == [b"1"]
    monkeypatch.setattr(time, "time", lambda: now + 61)
    reloaded = BinaryByteStore(tmp_path)
    assert reloaded.mget(["a", "b"]) == [None, None]
    assert list(reloaded.yield_keys()) == []
    assert store.mget(["a"]) == [None]


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([("a", "text")], "values must be bytes, got str for key 'a'"),
        ([("a", b"1"), (2, b"2")], "keys must be str, got int"),
        ([("a", b"1"), ("b", bytearray(b"2"))], "values must be bytes, got bytearray for key 'b'"),
    ],
)
def test_a_bad_pair_stores_nothing(pairs: list[tuple[object, object]], message: str) -> None:
    store = BinaryByteStore()
    store.mset([("kept", b"0")])
    with pytest.raises(TypeError, match=message):
        store.mset(pairs)  # type: ignore[arg-type]
    assert list(store.yield_keys()) == ["kept"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_entries": 0}, "max_entries must be a positive int, got 0"),
        ({"max_entries": True}, "max_entries must be a positive int, got True"),
        ({"ttl_seconds": 0}, "ttl_seconds must be a positive number of seconds or None, got 0"),
        ({"ttl_seconds": float("inf")}, "ttl_seconds must be a positive number"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BinaryByteStore(**kwargs)  # type: ignore[arg-type]


def test_persist_without_a_directory_says_what_to_pass() -> None:
    with pytest.raises(ValueError, match="pass path= to BinaryByteStore or to persist"):
        BinaryByteStore().persist()


def test_every_damaged_byte_and_every_cut_is_refused_and_left_alone(tmp_path: Path) -> None:
    target = _filled(tmp_path).persist()
    good = target.read_bytes()
    for offset in range(len(good)):
        damaged = bytearray(good)
        damaged[offset] ^= 0x41
        target.write_bytes(bytes(damaged))
        with pytest.raises(CorruptCacheError):
            BinaryByteStore(tmp_path)
        assert target.read_bytes() == bytes(damaged)
    for length in range(len(good)):
        target.write_bytes(good[:length])
        with pytest.raises(CorruptCacheError):
            BinaryByteStore(tmp_path)


def test_a_newer_file_version_is_named(tmp_path: Path) -> None:
    target = _filled(tmp_path).persist()
    body = bytearray(target.read_bytes()[:-32])
    body[len(b"BSC-BYTESTORE\n")] = 2  # the version's low byte, as a later release would write
    target.write_bytes(bytes(body) + hashlib.sha256(body).digest())
    with pytest.raises(
        UnsupportedFormatError, match="byte store version 2; this bsc-cache reads version 1"
    ):
        BinaryByteStore(tmp_path)


def test_another_kind_of_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bytestore.bsc").write_text('{"format": "json"}')
    with pytest.raises(CorruptCacheError, match="expected a bsc-cache byte store file"):
        BinaryByteStore(tmp_path)
