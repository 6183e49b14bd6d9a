"""Follow-up questions in a chat: carry the previous question's key terms into the search.

"why did Cavendish un-retire?" then "and who coaches him?" searches for
"and who coaches him? Cavendish un-retire": the second question alone names nobody, so the
key terms of the first one (names and content words) are appended to it. Only a question that
needs the previous one borrows from it (``is_followup``); one that names its own subject ("Who
is Vasilis Anastopoulos?"), asks about something else at length, or is in another language is
searched as it is.

Terms are borrowed only from the previous question as the person typed it, never from the text
searched for it (``followup_turn``), so a run of follow-ups does not pile terms up.

Pure string handling, no dependencies: the same rules serve the web UI and any other client.
"""

from __future__ import annotations

import re

SHORT_WORDS = 6  # a question of at most this many words is read as a follow-up...
MAX_TERMS = 8  # ...and gets at most this many terms of the previous question

# Words a follow-up starts with when it leans on the previous question.
_CONNECTORS = (
    "and",
    "but",
    "so",
    "also",
    "then",
    "or",
    "what about",
    "how about",
    "what else",
    "anything else",
    "same for",
    "and what about",
)
# Words that point back at something named before.
_PRONOUNS = frozenset(
    [
        "he",
        "him",
        "his",
        "himself",
        "she",
        "her",
        "hers",
        "herself",
        "they",
        "them",
        "their",
        "theirs",
        "themselves",
        "it",
        "its",
        "itself",
    ]
)
_DEMONSTRATIVES = frozenset(["that", "this", "those", "these", "there"])
# Words a short English question without a subject of its own starts with: an ellipsis of the
# previous one ("since when?", "which team?", "how many?"). A question in another language
# starts with none of them, and is never merged with an English one.
_ELLIPSIS_START = frozenset(
    "what which who whom whose when where why how since until whether".split()  # noqa: SIM905
)

# Function words, question words and very common verbs: never key terms, never names.
_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing done down during each else ever
    few for from further get gets got had has have having here how i if in into is just know let
    like many may me might more most much must my no nor not now of off on once only or other our
    ours out over own please same say said says should since so some such tell than that the then
    there these they this those through to too under until up us very was we were what when where
    whether which while who whom whose why will with would yes yet you your anything else
    something thing things he him his himself she her hers herself it its itself them their theirs
    themselves one ones ok okay really well""".split()  # noqa: SIM905
)

_WORD = re.compile(r"[^\W_](?:[\w'’.-]*[^\W_])?")
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)


def _words(text: str) -> list[str]:
    """Words, hyphenated compounds and contractions kept whole ("un-retire", "Cavendish's")."""
    return _WORD.findall(text)


def _base(word: str) -> str:
    """The word without a possessive ending: "Cavendish's" -> "Cavendish"."""
    return _POSSESSIVE.sub("", word)


def _is_name(word: str) -> bool:
    base = _base(word)
    return base[:1].isupper() and base.lower() not in _STOPWORDS and base != "I"


def _names(text: str) -> list[str]:
    return [_base(w) for w in _words(text) if _is_name(w)]


def _starts_with_connector(text: str) -> bool:
    lowered = " ".join(w.lower() for w in _words(text)[:3])
    return any(lowered == c or lowered.startswith(c + " ") for c in _CONNECTORS)


def is_followup(question: str) -> bool:
    """Whether the question needs the one before it: it starts with a connector ("and who
    coaches him?"), or names no subject of its own and points back (a pronoun, a
    demonstrative first) or is an English ellipsis ("since when?"). A question in another
    language or on a subject of its own stands alone."""
    words = [w.lower() for w in _words(question)]
    if not words:
        return False
    if _starts_with_connector(question):
        return True
    if _names(question):
        return False  # it names its own subject
    if words[0] in _DEMONSTRATIVES or any(_base(w) in _PRONOUNS for w in words):
        return True
    return len(words) <= SHORT_WORDS and words[0] in _ELLIPSIS_START


def key_terms(text: str, limit: int = MAX_TERMS) -> list[str]:
    """The names and content words of a question, in order, without repeats.

    Names come first when there are more than ``limit`` terms.
    """
    seen: set[str] = set()
    terms: list[tuple[bool, int, str]] = []
    for i, word in enumerate(_words(text)):
        base = _base(word)
        key = base.lower()
        if key in seen or key in _STOPWORDS:
            continue
        name = _is_name(word)
        if not name and len(base) < 3 and not any(ch.isdigit() for ch in base):
            continue
        seen.add(key)
        terms.append((name, i, base))
    if len(terms) > limit:
        terms = sorted(terms, key=lambda t: (not t[0], t[1]))[:limit]
        terms.sort(key=lambda t: t[1])
    return [t[2] for t in terms]


def expand_followup(question: str, previous: str | None) -> str:
    """The text to search for: the question, plus the previous question's key terms when the
    question is a follow-up (``is_followup``).

    The result always starts with ``question.strip()``; a standalone question, a first
    question (``previous`` empty) or a question without words comes back stripped and unchanged.
    """
    q = question.strip()
    if not previous or not previous.strip() or not any(ch.isalnum() for ch in q):
        return q
    if not is_followup(q):
        return q
    present = {_base(w).lower() for w in _words(q)}
    carried = [t for t in key_terms(previous) if t.lower() not in present]
    if not carried:
        return q
    return f"{q} {' '.join(carried)}"


def followup_turn(question: str, previous_typed: str | None) -> tuple[str, str]:
    """One turn of a conversation: the text to search for, and what the next turn borrows from.

    ``previous_typed`` is the previous question as the person typed it. The second value is
    this question as typed (stripped), never its expansion, so terms carried into one question
    are not carried again into the next.
    """
    return expand_followup(question, previous_typed), question.strip()
