"""Token counts before a request is sent: for batching, rate limits and the budget.

Billing uses the server's reported ``usage``; these counts only plan requests. tiktoken is
used when its encoding file is already on this machine. It downloads that file on first
use otherwise, which an offline machine cannot do, so then a conservative estimate is
used instead: one token per two UTF-8 bytes, rounded up. English averages about four
characters a token with OpenAI's encodings, so the estimate errs high for almost any text.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable

__all__ = ["TokenCounter", "estimate_tokens", "token_counter_for"]

TokenCounter = Callable[[str], int]

# Where tiktoken keeps each encoding once downloaded (tiktoken.load.read_file_cached names
# the cached file by the sha1 of this address). Only these are looked for locally.
_ENCODING_SOURCES = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}


def estimate_tokens(text: str) -> int:
    """A conservative token count that needs nothing: ceil(UTF-8 bytes / 2)."""
    return (len(text.encode("utf-8")) + 1) // 2


def _cached_locally(encoding: str) -> bool:
    source = _ENCODING_SOURCES.get(encoding)
    if source is None:
        return False
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        cache_dir = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not cache_dir:  # an empty setting turns tiktoken's cache off: it would download
        return False
    key = hashlib.sha1(source.encode()).hexdigest()
    return os.path.exists(os.path.join(cache_dir, key))


def token_counter_for(model: str) -> TokenCounter:
    """tiktoken's exact count for ``model`` if it works offline, else :func:`estimate_tokens`."""
    try:
        import tiktoken

        encoding_name = tiktoken.encoding_name_for_model(model)
    except (ImportError, KeyError):
        return estimate_tokens
    if not _cached_locally(encoding_name):
        return estimate_tokens
    try:
        encoding = tiktoken.get_encoding(encoding_name)
    except Exception:  # a damaged cache must not break embedding; fall back to the estimate
        return estimate_tokens

    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    return count
