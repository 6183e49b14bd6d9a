"""One frozen, validated set of settings for building and querying an index.

Numbers chosen here, and why:

* ``chunk_tokens = 200`` (tiktoken cl100k tokens). all-MiniLM-L6-v2 reads at most 256 wordpieces,
  two of which are [CLS]/[SEP]. On the seed articles and 2,000 SciFact abstracts, the wordpiece
  count of a paragraph is at most 1.25x its cl100k count (median 1.05x, p99 1.16x), so
  200 x 1.25 = 250 <= 254: a full chunk is read whole by the model. The build counts and reports
  any chunk the model would still truncate.
* ``chunk_overlap = 40`` tokens: a chunk repeats the trailing whole sentences (at most 40 tokens,
  typically one sentence) of the previous one, so a fact stated across a chunk boundary is still
  found in one piece.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
HASH_MODEL = "hash-384"
# 3: chunks carry page and section; HTML, PDF and DOCX text is stored in the index (texts/).
# 4: a compact chunk table (chunks.npy, chunks.txt) and documents.jsonl beside a small
# manifest; exact or HNSW vector index; files' modification times recorded (qa.indexing.index).
SCHEMA_VERSION = 4
# When ask() quotes an answer or says the articles do not answer, chosen per model on the
# development question sets by benchmarks/fit_confidence.py (docs/evaluation.md): below
# ABSTAIN_BELOW (the best sentence's cosine), NOT_FOUND_BELOW (the confidence,
# qa.answer.extractive.confidence) or READ_BELOW (the reader's highest probability for any
# sentence of the passages, qa.answer.reader) nothing answers; from ANSWER_FROM the sentence is
# quoted. The hashing embedder is not semantic: it always quotes.
ABSTAIN_BELOW = {DEFAULT_MODEL: 0.30, HASH_MODEL: 0.0}
ANSWER_FROM = {DEFAULT_MODEL: 0.72, HASH_MODEL: 0.0}
NOT_FOUND_BELOW = {DEFAULT_MODEL: 0.0, HASH_MODEL: 0.0}
READ_BELOW = {DEFAULT_MODEL: 0.10, HASH_MODEL: 0.0}
# A build warns about a file that lost more than this share of its characters as boilerplate.
WARN_REMOVED_SHARE = 0.30
FUSION_METHODS = ("zscore", "convex", "rrf")
# Every format qa.ingest.readers reads (tests/ingest/test_formats.py checks that they agree).
EXTENSIONS = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
# Boilerplate removal (qa.ingest.cleaning). Bump CLEANER_VERSION when the segments or the title
# of some text change: the build then re-chunks (and re-embeds, titles included) every document.
CLEANER_VERSION = 3
CLEAN_MODES = ("auto", "web", "none")


def _extensions(raw: str) -> tuple[str, ...]:
    """``.txt,.md, pdf`` -> ('.txt', '.md', '.pdf')."""
    parts = [p.strip().lower() for p in raw.split(",") if p.strip()]
    return tuple(p if p.startswith(".") else f".{p}" for p in parts)


def check_mode(mode: str) -> str:
    if mode not in CLEAN_MODES:
        raise ConfigError(f"clean must be one of {', '.join(CLEAN_MODES)}, got {mode!r}")
    return mode


RAY_LOCAL = "local"  # QA_RAY_ADDRESS / --ray without an address: a Ray started here
RAY_AUTO = "auto"  # the Ray cluster this machine belongs to (`ray start` ran here)


def ray_head(address: str) -> tuple[str, int] | None:
    """The host and port of a Ray head's address (``host:port`` or ``ray://host:port``);
    None for "local" and "auto". Raises ConfigError for anything else."""
    if address in (RAY_LOCAL, RAY_AUTO):
        return None
    parts = urlsplit(address if "://" in address else f"gcs://{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("gcs", "ray") or not parts.hostname or port is None or parts.path:
        raise ConfigError(
            f"a Ray address is {RAY_LOCAL!r}, {RAY_AUTO!r}, host:port or ray://host:port, "
            f"got {address!r}"
        )
    return parts.hostname, port


# Generative answers (qa.answer.llm, qa.answer.generate).
DEFAULT_TIMEOUT = 60.0  # seconds for the whole reply; also the longest wait for any one read
MAX_REPLY_TOKENS = 256  # a short answer of one to three sentences


@dataclass(frozen=True)
class LLMConfig:
    """Where the language model is served and how long to wait for it."""

    url: str  # the OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    max_tokens: int = MAX_REPLY_TOKENS

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"the language-model URL must be http(s)://host[:port]/…, got {self.url!r}"
            )
        if not self.model.strip():
            raise ConfigError("a language-model URL needs a model name (QA_LLM_MODEL, --llm-model)")
        if not 0 < self.timeout <= 3600:
            raise ConfigError(
                f"the language-model timeout must be in (0, 3600] s, got {self.timeout}"
            )
        if self.max_tokens < 1:
            raise ConfigError(f"max_tokens must be >= 1, got {self.max_tokens}")

    @property
    def endpoint(self) -> str:
        return self.url.rstrip("/") + "/chat/completions"

    @property
    def host(self) -> str:
        """The server's host and port, as the page header names it."""
        return urlsplit(self.url).netloc


STORES = ("local", "milvus:PATH.db", "milvus:http(s)://HOST:PORT")


@dataclass(frozen=True)
class MilvusTarget:
    """Where the index lives in Milvus: a Milvus Lite file, or a server's URL and its token."""

    uri: str  # a path ending in .db (Milvus Lite), or http(s)://host:port
    token: str | None = field(default=None, repr=False)

    @property
    def lite(self) -> bool:
        return not self.uri.startswith(("http://", "https://"))


def parse_store(store: str, token: str | None = None) -> MilvusTarget | None:
    """``local`` -> None; ``milvus:PATH.db`` or ``milvus:http(s)://host:port`` -> its target."""
    if store == "local":
        return None
    if not store.startswith("milvus:") or not store[len("milvus:") :].strip():
        raise ConfigError(f"store must be one of {', '.join(STORES)}, got {store!r}")
    uri = store[len("milvus:") :].strip()
    if uri.startswith(("http://", "https://")):
        parts = urlsplit(uri)
        if not parts.netloc:
            raise ConfigError(f"the Milvus URL must be http(s)://host:port, got {uri!r}")
        return MilvusTarget(uri, token)
    if not uri.endswith(".db"):
        raise ConfigError(f"a Milvus Lite file's name must end in .db, got {uri!r}")
    return MilvusTarget(str(os.path.abspath(os.path.expanduser(uri))), token)


@dataclass(frozen=True)
class Settings:
    """Everything that decides what an index contains and how it is queried."""

    model: str = DEFAULT_MODEL
    # "cpu", "cuda", ... ; None: a CUDA GPU when there is one, else the CPU
    device: str | None = None
    batch_size: int | None = None  # texts per model call; None: 64 on the CPU, 256 on a GPU
    encoding: str = "cl100k_base"
    chunk_tokens: int = 200
    chunk_overlap: int = 40
    title_prefix: bool = False  # embed and keyword-index each chunk with its article title
    # Files read, by extension (qa.ingest.readers): every supported format; a file whose reader's
    # library is missing is skipped with a reason naming the extra that installs it.
    extensions: tuple[str, ...] = EXTENSIONS
    # Boilerplate removal (qa.ingest.cleaning): "auto" only on documents that look like scraped web
    # pages, "web" on every document, "none" keeps every line.
    clean: str = "auto"
    max_file_bytes: int = 20_000_000
    max_question_chars: int = 2_000
    max_k: int = 100
    retrieval: str = "hybrid"  # "hybrid", "dense" or "keyword"
    fusion: str = "zscore"  # "zscore", "convex" or "rrf" (see qa.searching.fusion)
    fusion_alpha: float = 0.5  # weight of the dense signal; the keyword signal gets 1 - alpha
    # Weight of the best-sentence signal: the highest cosine between the question and one
    # sentence of the passage (plus the answer-type bonus). fusion, fusion_alpha and
    # sentence_weight were chosen on SciFact *train* queries and a development question set on
    # the seeds (docs/evaluation.md), never on the test queries.
    sentence_weight: float = 0.5
    fusion_candidates: int = 100  # from each of dense and keyword search
    abstain_below: float | None = None  # None: the calibrated value for the model
    answer_from: float | None = None  # None: the calibrated value for the model
    not_found_below: float | None = None  # None: the calibrated value for the model
    read_below: float | None = None  # None: the calibrated value for the model
    # Optional generative answers (qa.answer.generate): an OpenAI-compatible base URL and model
    # name.
    # None: extractive answers only, and nothing is sent anywhere.
    llm_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = field(default=None, repr=False)
    llm_timeout: float = DEFAULT_TIMEOUT  # seconds for a whole reply before falling back
    llm_max_tokens: int = MAX_REPLY_TOKENS  # the longest reply asked for
    # Where a build embeds (qa.indexing.remote): None in this process; "local" a Ray started on
    # this machine; "auto" the Ray cluster running here; "host:port" (a head node's GCS) or
    # "ray://host:port" (Ray Client) a cluster's head.
    ray_address: str | None = None
    # Where the index lives: "local" (the index folder), "milvus:PATH.db" (a Milvus Lite file)
    # or "milvus:http(s)://HOST:PORT" (a Milvus server; its token in milvus_token).
    store: str = "local"
    milvus_token: str | None = field(default=None, repr=False)

    def milvus(self) -> MilvusTarget | None:
        """The Milvus store, or None for the local index folder."""
        return parse_store(self.store, self.milvus_token)

    def llm(self) -> LLMConfig | None:
        """Where generative answers come from, or None when they are off."""
        if not self.llm_url:
            return None
        return LLMConfig(
            self.llm_url,
            self.llm_model or "",
            self.llm_api_key,
            self.llm_timeout,
            self.llm_max_tokens,
        )

    def abstain_threshold(self) -> float:
        if self.abstain_below is not None:
            return self.abstain_below
        return ABSTAIN_BELOW.get(self.model, 0.0)

    def answer_threshold(self) -> float:
        if self.answer_from is not None:
            return self.answer_from
        return ANSWER_FROM.get(self.model, ANSWER_FROM[DEFAULT_MODEL])

    def not_found_threshold(self) -> float:
        if self.not_found_below is not None:
            return self.not_found_below
        return NOT_FOUND_BELOW.get(self.model, NOT_FOUND_BELOW[DEFAULT_MODEL])

    def read_threshold(self) -> float:
        if self.read_below is not None:
            return self.read_below
        return READ_BELOW.get(self.model, READ_BELOW[DEFAULT_MODEL])

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise ConfigError("model must not be empty")
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.chunk_tokens < 16:
            raise ConfigError(f"chunk_tokens must be >= 16, got {self.chunk_tokens}")
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise ConfigError(
                "chunk_overlap must be between 0 and half of chunk_tokens, "
                f"got {self.chunk_overlap}"
            )
        if not self.extensions or any(not e.startswith(".") for e in self.extensions):
            raise ConfigError(f"extensions must be like ('.txt', '.md'), got {self.extensions!r}")
        check_mode(self.clean)
        if self.max_question_chars < 10:
            raise ConfigError("max_question_chars must be >= 10")
        if self.max_k < 1:
            raise ConfigError("max_k must be >= 1")
        if self.retrieval not in ("hybrid", "dense", "keyword"):
            raise ConfigError(
                f"retrieval must be 'hybrid', 'dense' or 'keyword', got {self.retrieval!r}"
            )
        if self.fusion not in FUSION_METHODS:
            raise ConfigError(
                f"fusion must be one of {', '.join(FUSION_METHODS)}, got {self.fusion!r}"
            )
        if not 0.0 <= self.fusion_alpha <= 1.0:
            raise ConfigError(f"fusion_alpha must be in [0, 1], got {self.fusion_alpha}")
        if self.sentence_weight < 0:
            raise ConfigError(f"sentence_weight must be >= 0, got {self.sentence_weight}")
        for name in ("answer_from", "not_found_below", "read_below"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {value}")
        if self.fusion_candidates < 1:
            raise ConfigError("fusion_candidates must be >= 1")
        if self.llm_model and not self.llm_url:
            raise ConfigError(
                "a language-model name needs its server's URL (QA_LLM_URL, --llm-url)"
            )
        self.llm()  # validates the URL, the model name and the timeout
        if self.ray_address is not None:
            ray_head(self.ray_address)  # raises ConfigError for a malformed one
        self.milvus()  # validates the store

    def chunker(self) -> dict[str, Any]:
        """The rebuild fingerprint: the settings that decide the chunks (cleaning included).

        It is stored in the manifest; a build whose fingerprint differs re-embeds everything.
        """
        return {
            "encoding": self.encoding,
            "max_tokens": self.chunk_tokens,
            "overlap_tokens": self.chunk_overlap,
            "sentence_aligned": True,
            "title_prefix": self.title_prefix,
            "cleaner_version": CLEANER_VERSION,
            "clean": self.clean,
            "extensions": list(self.extensions),
        }

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Every setting, the language model's API key masked (this goes into reports)."""
        data = asdict(self)
        for secret in ("llm_api_key", "milvus_token"):
            if data[secret]:
                data[secret] = "***"
        return data

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``QA_*`` environment variables, then explicit overrides.

        ``QA_MODEL``, ``QA_DEVICE``, ``QA_BATCH_SIZE``, ``QA_CHUNK_TOKENS``, ``QA_CHUNK_OVERLAP``,
        ``QA_RETRIEVAL``, ``QA_FUSION``, ``QA_FUSION_ALPHA``, ``QA_SENTENCE_WEIGHT``,
        ``QA_CLEAN``, ``QA_EXTENSIONS`` (comma-separated: ``.txt,.md,.pdf``), ``QA_LLM_URL``,
        ``QA_LLM_MODEL``, ``QA_LLM_API_KEY``, ``QA_LLM_TIMEOUT``,
        ``QA_LLM_MAX_TOKENS``, ``QA_RAY_ADDRESS``, ``QA_STORE``, ``QA_MILVUS_TOKEN``.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, key, conv in (
            ("model", "QA_MODEL", str),
            ("device", "QA_DEVICE", str),
            ("batch_size", "QA_BATCH_SIZE", int),
            ("chunk_tokens", "QA_CHUNK_TOKENS", int),
            ("chunk_overlap", "QA_CHUNK_OVERLAP", int),
            ("retrieval", "QA_RETRIEVAL", str),
            ("fusion", "QA_FUSION", str),
            ("fusion_alpha", "QA_FUSION_ALPHA", float),
            ("sentence_weight", "QA_SENTENCE_WEIGHT", float),
            ("clean", "QA_CLEAN", str),
            ("llm_url", "QA_LLM_URL", str),
            ("llm_model", "QA_LLM_MODEL", str),
            ("llm_api_key", "QA_LLM_API_KEY", str),
            ("llm_timeout", "QA_LLM_TIMEOUT", float),
            ("llm_max_tokens", "QA_LLM_MAX_TOKENS", int),
            ("extensions", "QA_EXTENSIONS", _extensions),
            ("ray_address", "QA_RAY_ADDRESS", str),
            ("store", "QA_STORE", str),
            ("milvus_token", "QA_MILVUS_TOKEN", str),
        ):
            raw = env.get(key)
            if raw is None or raw == "":
                continue
            try:
                values[name] = conv(raw)
            except ValueError as exc:
                raise ConfigError(f"{key}={raw!r} is not a valid value") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def settings_or_env(settings: Settings | None) -> Settings:
    """The settings given, else those of the environment (``Settings.from_env()``)."""
    return settings if settings is not None else Settings.from_env()
