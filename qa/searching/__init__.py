"""Searching: a question in, ranked passages and an answer out.

``retrieval`` ranks chunks by dense and keyword search fused (``fusion``) with each passage's
best sentence; ``query`` holds the public ``search`` and ``ask`` (the answer step is
``qa.answer``), the cache of loaded indexes, and what an index holds. (Named ``searching``, not
``search``, so that ``qa.search`` stays the public function.) Hands on: ``Hit`` and ``Answer``.
"""
