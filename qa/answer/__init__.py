"""Answer: passages in, the answering sentence, its confidence and the reply's outcome out.

``extractive`` picks the sentence to quote from the top passages and decides the outcome
(``answered``, ``passages`` or ``not_found``); ``answertype`` tells what kind of answer a
question asks for; ``followup`` reads a question in the light of the previous turn;
``generate`` and ``llm`` write a reply with a local language model when one is configured,
every citation checked. Pure of storage: it is handed sentences and vectors. Hands on: the
chosen sentences and signals that ``qa.searching.query`` turns into an ``Answer``.
"""
