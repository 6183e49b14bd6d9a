"""Exceptions raised by the qa library.

Only the CLI and the web UI turn these into messages for people; the library never prints.
Every message is one line that says what is wrong and, where there is one, what to do.
"""

from __future__ import annotations


class QAError(Exception):
    """Base class of every error the library raises on purpose."""


class ConfigError(QAError, ValueError):
    """A setting has an invalid value."""


class QuestionError(QAError, ValueError):
    """The question is empty, too long, or has no words in it."""


class InvalidArgumentError(QAError, ValueError):
    """An argument other than the question is out of range (e.g. k <= 0)."""


class CorpusError(QAError):
    """The corpus folder is missing or holds no readable article."""


class IndexUnusableError(QAError):
    """A saved index cannot be used (base class: missing, corrupt, or of another kind)."""


class IndexNotFoundError(IndexUnusableError):
    """There is no index in the folder: it has not been built yet."""


class IndexCorruptError(IndexUnusableError):
    """An index file is missing, truncated or fails its checksum."""


class IndexMismatchError(IndexUnusableError):
    """The index was built with another model, dimension or schema than this program uses."""


class IndexWriteError(QAError):
    """The index could not be written (disk full, read-only folder); the previous one stays."""


class StoreError(QAError):
    """The index's store cannot be used: Milvus unreachable, a token refused, a call failed,
    or pymilvus missing."""


class BuildInProgressError(QAError):
    """Another process is building this index right now."""


class ModelError(QAError):
    """The embedding model could not be loaded."""


class ClusterError(QAError):
    """Embedding on a Ray cluster (``qa build --ray``) could not start or did not finish:
    Ray is not installed, the cluster cannot be reached, or its workers failed."""


class GeneratorError(QAError):
    """The language-model server could not give a usable reply (unreachable, too slow, an
    HTTP error, malformed JSON). Callers fall back to the extractive answer."""


class DocumentSkipped(QAError):
    """A file is left out of the index on purpose (no text layer, password, missing extra);
    the message says why. The build reports it and goes on."""


class DocumentUnreadable(DocumentSkipped):
    """A file could not be read: it is broken or malformed. The build reports it and goes on."""
