"""Encode: texts in, unit vectors out (all-MiniLM-L6-v2, loaded by path, never from a hub).

``embedding`` picks the encoder for the job: torch alone for builds (``torchbert``, fed by the
tokenizer threads of ``feed``), numpy for a question (``bert``: no torch import at query time),
a hashing stand-in for fast tests. Hands on: float32 vectors, one per text.
"""
