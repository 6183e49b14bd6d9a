"""Tests of qa.ingest.cleaning.clean on the seed articles, ordinary documents, synthetic cases and
arbitrary text."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from qa.config import CLEAN_MODES
from qa.errors import ConfigError
from qa.ingest.cleaning import Cleaned, clean, visible_chars
from qa.ingest.sentences import trim
from qa.types import Span

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
SEED_FILES = {p.name[:3]: p for p in sorted(SEEDS.glob("*.txt"))}
ORDINARY = Path(__file__).resolve().parents[1] / "ordinary"
ORDINARY_FILES = sorted(p for p in ORDINARY.rglob("*") if p.suffix in (".md", ".txt"))

# Each of these was once dropped from any file it stood in, as if it were boilerplate.
NINE_SENTENCES = [
    "Our weekly newsletter goes out every Friday and lists the releases of the week.",
    "Customers must accept the terms and conditions before the trial converts to a paid plan.",
    "Sign up for the on-call rota in the first month.",
    "Alice is working for the Berlin office since 2019.",
    "Bob has been writing for the company blog for years, mostly about caching.",
    "Photo credit: the photos in this report were taken by our field team in Kenya.",
    "Please refresh the page cache after each deploy, otherwise users see stale assets.",
    "Subscribe now to the events stream to get updates.",
    "Enjoy your first month for just the cost of the hardware.",
]

BOILERPLATE = [
    "Newsletter",
    "Join now for unlimited access",
    "has been writing for Cycling Weekly",
    "Image credit",
    "By Tom Thewlis Published",
    "Also read:",
    "Skipping gears leave devastated",
    "Since joining the team",
]

# Sentences of the articles themselves, first and last real paragraphs included.
KEPT = {
    "000": [
        "Mark Cavendish set to reunite with Quick-Step coach for final pro season in 2024",
        "Mark Cavendish is set to be reunited with his former coach, Vasilis Anastopoulos, who "
        "worked with the Manxman at Soudal Quick-Step for his final pro season at Astana "
        "Qazaqstan.",
        "That year Cycling Weekly named Cavendish our Male Rider of the Year.",
        "Cavendish is tied on 34 wins with Eddy Merckx",
        "Cycling Weekly has approached Astana Qazaqstan for comment once more regarding the "
        "expected arrival of Anastopoulos but the team had not responded at the time of going "
        "to press.",
    ],
    "001": [
        "Vasilis Anastopolous, the new head of performance at Astana Qazaqstan, has said that his "
        "main objective at his new team is to attempt to replicate the Quick-Step leadout train",
        "The latter played a key role in all of his four stage wins at the 2021 Tour.",
        "Philipsen also narrowly beat the Manxman in Bordeaux when a late mechanical prevented "
        "him from winning.",
        "“We need to do our homework.",
        "You know, based on his physical preparation, and then I think the result will come.”",
    ],
    "002": [
        "Vasilis Anastopoulos mentored Mark Cavendish into the record books in 2021 when he "
        "reached 34 Tour de France stage-stage wins with Deceuninck Quick-Step.",
        "The mission to become the rider with the most Tour de France stage wins on record will "
        "be front and center of every pedal stroke Cavendish makes",
        "Astana-Cav-Step 2024",
        "less than 24 hours after skipping gears left him devastated with second in Bordeaux.",
        "A happy Cavendish is a winning Cavendish",
        "“Project 35” clicks into gear then.",
    ],
    "003": [
        "Mark Cavendish has reached an agreement with Astana Qazaqstan boss Alexander Vinokourov "
        "to continue racing in the WorldTour for another year, according to reports.",
        "Cycling Weekly approached Astana Qazaqstan for comment regarding Cavendish’s contract "
        "situation and a possible extension but the team declined to comment.",
        "Dutch rider Ide Schelling will also join the team from Bora-Hansgrohe from next year to "
        "further strengthen the team’s firepower as they look to dominate the sprint stages in "
        "the French Grand Tour next July.",
    ],
    "004": [
        "Mark Cavendish celebrates after winning the final stage of the 2023 Giro d'Italia in Rome",
        "Mark Cavendish has opted not to retire and will race on in 2024, signing a new deal with "
        "Astana Qazaqstan, with the aim to target the Tour de France stage win record.",
        'He told Ekstra Bladet in late September that Astana is "a possibility. A good '
        "possibility. It hasn't been decided yet, so I can't answer that.\"",
    ],
}

# Boilerplate specific to one file.
REMOVED = {
    "000": [
        "The latest race content",
        "Enjoy your first month for just",
        "free articles per month",
        "UK's worst roads",
        "Bonnie Tu, the most powerful woman in bicycling",
        "Promising British rider who quit cycling",
        "By Tom Davidson Published",
    ],
    "001": [
        "date 2023-10-05",
        "Your Email Address",
        "Terms & Conditions",
        "Cavendish in action at the 2021 Tour de France",
        "Cavendish celebrates victory for Astana on the final day",
    ],
    "002": ["Cavendish will return to chase Tour De France history"],
    "003": ["date 2023-09-26", "verification email", "Please refresh the page"],
    "004": ["date 2023-10-04"],
}

DATES = {"000": None, "001": "2023-10-05", "002": None, "003": "2023-09-26", "004": "2023-10-04"}


def _read(key: str) -> str:
    return SEED_FILES[key].read_text(encoding="utf-8")


def _content(text: str, segments: tuple[Span, ...]) -> str:
    return "\n\n".join(s.of(text) for s in segments)


def test_all_five_seeds_present() -> None:
    assert sorted(SEED_FILES) == ["000", "001", "002", "003", "004"]


@pytest.mark.parametrize("key", sorted(DATES))
def test_seed_boilerplate_removed(key: str) -> None:
    text = _read(key)
    cleaned = clean(text)
    content = _content(text, cleaned.segments)
    removed = _content(text, cleaned.removed)
    for phrase in [*BOILERPLATE, *REMOVED[key]]:
        assert phrase not in content, phrase
        if phrase in text and not phrase.startswith("date "):  # the date line is metadata
            assert phrase in removed, phrase


@pytest.mark.parametrize("key", sorted(DATES))
def test_seed_article_sentences_kept(key: str) -> None:
    text = _read(key)
    content = _content(text, clean(text).segments)
    for sentence in KEPT[key]:
        assert sentence in text, "test data must quote the file"
        assert sentence in content, sentence


@pytest.mark.parametrize("key", sorted(DATES))
def test_seed_dates(key: str) -> None:
    assert clean(_read(key)).date == DATES[key]


@pytest.mark.parametrize("key", sorted(DATES))
def test_seed_content_starts_and_ends_with_the_article(key: str) -> None:
    text = _read(key)
    segments = clean(text).segments
    assert segments
    assert text[segments[0].start :].startswith(KEPT[key][0])
    assert text[: segments[-1].end].endswith(KEPT[key][-1])


def test_seed_000_title_is_first_line_and_one_segment() -> None:
    text = _read("000")
    cleaned = clean(text)
    assert cleaned.title == text.split("\n", 1)[0]
    assert cleaned.title == (
        "Mark Cavendish set to reunite with Quick-Step coach for final pro season in 2024"
    )
    assert cleaned.segments == (Span(0, text.index("Get The Leadout Newsletter") - 1),)


# 000 opens with its headline. The others have none: 004 opens with a photo caption (skipped),
# the rest with their first paragraph, whose first sentence is cut at a clause boundary.
SEED_TITLES = {
    "000": "Mark Cavendish set to reunite with Quick-Step coach for final pro season in 2024",
    "001": "Vasilis Anastopolous, the new head of performance at Astana Qazaqstan",
    "002": "Vasilis Anastopoulos mentored Mark Cavendish into the record books in 2021",
    "003": (
        "Mark Cavendish has reached an agreement with Astana Qazaqstan boss Alexander Vinokourov"
    ),
    "004": "Mark Cavendish has opted not to retire and will race on in 2024",
}


@pytest.mark.parametrize("key", sorted(SEED_TITLES))
def test_seed_titles(key: str) -> None:
    assert clean(_read(key)).title == SEED_TITLES[key]


@pytest.mark.parametrize(
    ("text", "title"),
    [
        # a headline line: short, not ending like a sentence ("?" and "!" are fine)
        ("Why did Cavendish un-retire?\nHe said so on Tuesday.\n", "Why did Cavendish un-retire?"),
        ("Weekly notes, week 14\n\nMonday. We shipped.\n", "Weekly notes, week 14"),
        # photo captions above it are skipped
        (
            "Cavendish in action at the Tour (Image credit: Getty Images)\nA headline\n\nBody.\n",
            "A headline",
        ),
        ("Photo: the peloton in Rome\nPeloton reaches Rome\nBody text.\n", "Peloton reaches Rome"),
        (
            "Mark Cavendish celebrates after winning in Rome\n\nCavendish will race on.\n",
            "Cavendish will race on.",
        ),
        ("Photo: a caption and nothing else\n", "Photo: a caption and nothing else"),
        # a first sentence: whole when short, else cut at a comma or before a clause word
        ("Body sentence here. Another one.\n", "Body sentence here."),
        (
            "The committee met in the town hall on Monday evening, and agreed on the budget for "
            "the coming year after a long debate.\n",
            "The committee met in the town hall on Monday evening",
        ),
        (
            "The committee met in the old town hall on Monday evening to agree on the budget for "
            "the coming year in a long and heated debate.\n",
            "The committee met in the old town hall on Monday evening",
        ),
        # ... else at a word, marked as cut
        ("Supercalifragilistic " * 8 + "end.\n", " ".join(["Supercalifragilistic"] * 4) + "…"),
        # a paragraph wrapped over lines is one sentence, not a headline line
        (
            "Ordinary documents for the cleaning tests: notes, handbook pages and reports written "
            "for the\ntests, in Markdown and plain text.\n",
            "Ordinary documents for the cleaning tests",
        ),
    ],
)
def test_title_is_a_headline_or_a_short_first_sentence(text: str, title: str) -> None:
    assert clean(text).title == title


def test_seed_002_segments_split_around_also_read_list() -> None:
    text = _read("002")
    segments = clean(text).segments
    assert len(segments) == 2
    assert text[: segments[0].end].endswith("second season with Astana-Qazaqstan.")
    assert text[segments[1].start :].startswith("Cavendish’s leadout train gets a full")


@pytest.mark.parametrize("key", sorted(DATES))
def test_seed_titles_are_short(key: str) -> None:
    title = clean(_read(key)).title
    assert 0 < len(title) <= 151
    assert "\n" not in title


# --- synthetic cases -------------------------------------------------------------------------


def test_front_matter_title_and_date() -> None:
    text = (
        '---\ntitle: "My Title"\ndate: 2024-01-15\n---\n'
        "First paragraph here. It has two sentences.\n\nSecond paragraph.\n"
    )
    cleaned = clean(text)
    assert cleaned.title == "My Title"
    assert cleaned.date == "2024-01-15"
    start = text.index("First")
    assert cleaned.segments == (Span(start, start + 62),)
    assert cleaned.segments[0].of(text).endswith("Second paragraph.")


def test_front_matter_date_with_time_is_truncated_to_day() -> None:
    text = "---\ndate: 2022-03-04T10:00:00Z\n---\nBody sentence here.\n"
    cleaned = clean(text)
    assert cleaned.date == "2022-03-04"
    assert cleaned.title == "Body sentence here."


def test_markdown_heading_title() -> None:
    text = "# A Heading\n\nBody text is here. More body.\n"
    cleaned = clean(text)
    assert cleaned.title == "A Heading"
    assert cleaned.date is None
    assert cleaned.segments == (Span(0, 42),)


def test_date_line_prefix_is_excluded_from_segments() -> None:
    text = "date 2024-02-03 Title line\n\nBody."
    cleaned = clean(text)
    assert cleaned.date == "2024-02-03"
    assert cleaned.title == "Title line"
    assert cleaned.segments == (Span(16, 33),)


def test_date_line_late_in_the_text_is_not_metadata() -> None:
    body = "".join(f"Line number {i} here.\n" for i in range(6))
    text = body + "date 2024-02-03 was a day\n"
    cleaned = clean(text)
    assert cleaned.date is None
    assert cleaned.segments == (Span(0, len(text) - 1),)


def test_article_without_boilerplate_is_one_segment() -> None:
    text = (
        "Plain title\n"
        "Some article text. Another sentence follows it.\n\n"
        "A second paragraph with Dr. Who in it.\n\n"
        "The last paragraph.\n\n"
    )
    cleaned = clean(text)
    assert cleaned.segments == (Span(0, len(text.rstrip())),)
    assert cleaned.title == "Plain title"
    assert cleaned.date is None


def test_all_boilerplate_gives_no_segments() -> None:
    text = (
        "Get The Leadout Newsletter\n"
        "The latest race content, direct to your inbox!\n"
        "Thank you for reading 20 articles this month* Join now for unlimited access\n"
        "*Read 5 free articles per month without a subscription\n"
        "-\n"
        "By Jane Doe Published\n"
    )
    cleaned = clean(text)
    assert cleaned.segments == ()
    assert cleaned.title == ""


@pytest.mark.parametrize("text", ["", "   ", "\n\n\n", " \t\n \n"])
def test_empty_text_gives_no_segments(text: str) -> None:
    assert clean(text).segments == ()


def test_also_read_list_is_removed() -> None:
    text = "Body text.\nAlso read:\n- One\n- Two\n\nAfter list."
    cleaned = clean(text)
    assert [s.of(text) for s in cleaned.segments] == ["Body text.", "After list."]


def test_teaser_group_before_byline_is_removed() -> None:
    text = (
        "The article body. It is here.\n"
        "-\n"
        "Some other headline\n"
        "A standfirst for it\n"
        "By Ann Other Published\n"
    )
    cleaned = clean(text, mode="web")
    assert [s.of(text) for s in cleaned.segments] == ["The article body. It is here."]
    # One byline is one signal: in auto mode the text is not a web page and stays whole.
    assert [s.of(text) for s in clean(text).segments] == [text.strip()]


def test_image_credit_sentence_removed_from_line() -> None:
    text = "A caption here (Image credit: Getty Images)\n\nReal text here."
    cleaned = clean(text, mode="web")
    assert [s.of(text) for s in cleaned.segments] == ["Real text here."]
    assert cleaned.removed == (Span(0, text.index("\n")),)
    assert clean(text).segments == (Span(0, len(text)),)


def test_author_bio_wedged_between_footer_blocks_is_removed() -> None:
    body = "Article body sentence number one is here. " * 20
    text = (
        body + "\nNewsletter sign up\nJohn writes about bikes and lives in Leeds.\n"
        "Join now for unlimited access\n"
    )
    cleaned = clean(text)
    assert cleaned.segments == (Span(0, len(body.rstrip())),)


def test_content_after_boilerplate_at_the_very_end_is_kept() -> None:
    # Nothing follows the last paragraph, so it is not "wedged" and stays.
    body = "Article body sentence number one is here. " * 20
    tail = "John writes about bikes and lives in Leeds."
    text = body + "\nNewsletter sign up\n" + tail + "\n"
    cleaned = clean(text, mode="web")
    assert [s.of(text) for s in cleaned.segments] == [body.rstrip(), tail]


def test_leading_bom_is_not_in_segment_or_title() -> None:
    text = "\ufeffHello world.\nMore text."
    cleaned = clean(text)
    assert cleaned.segments == (Span(1, len(text)),)
    assert cleaned.title == "Hello world."


# --- properties ------------------------------------------------------------------------------

_LINES = st.sampled_from(
    [
        "Mark Cavendish won the stage. He was happy.",
        "a hard-wrapped continuation line",
        "Get The Leadout Newsletter",
        "Join now for unlimited access",
        "Also read:",
        "- A bullet item",
        "-",
        "By Tom Thewlis Published",
        "Tom has been writing for Cycling Weekly since 2022.",
        "Photo (Image credit: Getty Images)",
        "date 2023-10-05 Title",
        "---",
        "title: Something",
        "# Heading",
        "",
        "   ",
        "\ufeff",
        "Dr. J. Smith said “Yes.” Then left!",
    ]
)
_TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(_LINES, st.text(max_size=30)), max_size=25).map("\n".join),
)


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_property_segments_well_formed(text: str) -> None:
    cleaned = clean(text)
    prev_end = 0
    for seg in cleaned.segments:
        assert 0 <= seg.start < seg.end <= len(text)
        assert seg.start >= prev_end
        prev_end = seg.end
        piece = seg.of(text)
        assert not piece[0].isspace()
        assert not piece[-1].isspace()
    assert isinstance(cleaned.title, str)
    assert "\n" not in cleaned.title


@settings(max_examples=100, deadline=None)
@given(_TEXT, st.sampled_from(CLEAN_MODES))
def test_property_removed_spans_well_formed_and_apart_from_segments(text: str, mode: str) -> None:
    cleaned = clean(text, mode)
    spans = sorted([*cleaned.segments, *cleaned.removed])
    for a, b in itertools.pairwise(spans):
        assert a.end <= b.start
    for span in cleaned.removed:
        piece = span.of(text)
        assert piece.strip() and not piece[0].isspace() and not piece[-1].isspace()
    if mode == "none" or not cleaned.web_page:
        assert cleaned.removed == ()
    if not _METADATA.search(text):  # then segments and removed spans hold every character
        held = sum(visible_chars(text, s.start, s.end) for s in spans)
        assert held == visible_chars(text)


# --- what is a web page ----------------------------------------------------------------------

_METADATA = re.compile(
    r"\A---[ \t]*\n|^\s*date:?\s+\d{4}-\d{2}-\d{2}", re.IGNORECASE | re.MULTILINE
)


def _front_matter_end(text: str) -> int:
    m = re.match(r"\A---[ \t]*\n.*?\n---[ \t]*(?:\n|\Z)", text, re.DOTALL)
    return m.end() if m else 0


def _uncovered_lines(text: str, cleaned: Cleaned, start: int = 0) -> list[str]:
    """The non-blank lines of text[start:] that are not wholly inside one segment."""
    missing = []
    pos = start
    for line in text[start:].split("\n"):
        span = trim(text, pos, pos + len(line))
        pos += len(line) + 1
        if span is not None and not any(
            seg.start <= span.start and span.end <= seg.end for seg in cleaned.segments
        ):
            missing.append(span.of(text))
    return missing


def _lost_chars(text: str, cleaned: Cleaned) -> int:
    """Non-whitespace characters outside the front matter that no segment holds."""
    kept = sum(visible_chars(text, s.start, s.end) for s in cleaned.segments)
    return visible_chars(text, _front_matter_end(text)) - kept


def test_ordinary_corpus_has_several_files_of_both_kinds() -> None:
    assert len(ORDINARY_FILES) >= 5
    assert {p.suffix for p in ORDINARY_FILES} == {".md", ".txt"}


@pytest.mark.parametrize("path", ORDINARY_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("mode", ["auto", "none"])
def test_ordinary_documents_lose_nothing(path: Path, mode: str) -> None:
    text = path.read_text(encoding="utf-8")
    cleaned = clean(text, mode)
    assert not cleaned.web_page
    assert cleaned.removed == ()
    assert _lost_chars(text, cleaned) == 0
    assert _uncovered_lines(text, cleaned, _front_matter_end(text)) == []


def test_ordinary_corpus_holds_the_nine_sentences_in_paragraphs() -> None:
    texts = [p.read_text(encoding="utf-8") for p in ORDINARY_FILES]
    for sentence in NINE_SENTENCES:
        holders = [t for t in texts if sentence in t]
        assert holders, sentence
        # Inside a paragraph or list, not alone in a file.
        assert all(len(t.split()) > 3 * len(sentence.split()) for t in holders)


def test_visible_chars_ignores_whitespace_and_bom() -> None:
    text = "\ufeffA b\tc\n\n d\u00a0e\u2003"
    assert visible_chars(text) == sum(1 for ch in text if not ch.isspace() and ch != "\ufeff")
    assert visible_chars(text) == 5 and visible_chars(text, 1, 6) == 3


@pytest.mark.parametrize("mode", CLEAN_MODES)
def test_nine_sentences_alone_are_kept_in_every_mode(mode: str) -> None:
    for sentence in NINE_SENTENCES:
        text = f"Notes\n\n{sentence}\n"
        cleaned = clean(text, mode)
        assert sentence in _content(text, cleaned.segments), (mode, sentence)


def test_nine_sentences_are_kept_inside_a_web_page() -> None:
    """Even on a page that is cleaned, a sentence that only uses the words stays."""
    text = _read("000")
    at = text.index("That year Cycling Weekly")
    paragraph = " ".join(NINE_SENTENCES)
    page = text[:at] + paragraph + "\n" + "\n".join(NINE_SENTENCES) + "\n" + text[at:]
    cleaned = clean(page)
    assert cleaned.web_page
    content = _content(page, cleaned.segments)
    assert paragraph in content
    for sentence in NINE_SENTENCES:
        assert f"\n{sentence}\n" in content
    for phrase in BOILERPLATE:
        assert phrase not in content, phrase


SEED_SIGNALS = {
    "000": {"byline", "paywall", "signup"},
    "001": {"credit", "signup"},
    "002": {"teaser"},  # "Also read:" and its two bullets: three lines of one kind
    "003": {"signup"},  # a sign-up box of six sentences run into one line
    "004": set(),
}


@pytest.mark.parametrize("key", sorted(SEED_SIGNALS))
def test_seed_signals_and_verdict(key: str) -> None:
    cleaned = clean(_read(key))
    assert {kind for kind, _ in cleaned.signals} == SEED_SIGNALS[key]
    assert cleaned.web_page == (key != "004")


@pytest.mark.parametrize("key", sorted(SEED_SIGNALS))
def test_seed_none_mode_keeps_every_line(key: str) -> None:
    text = _read(key)
    cleaned = clean(text, "none")
    assert not cleaned.web_page and cleaned.removed == ()
    assert cleaned.date == DATES[key]
    missing = _uncovered_lines(text, cleaned)
    assert missing == ([] if DATES[key] is None else [text.split("\n", 1)[0].strip()])
    assert clean(text, "web").segments == clean(text).segments  # all but 004 are web pages


def test_seed_removed_spans_and_segments_cover_the_text() -> None:
    for key in sorted(DATES):
        text = _read(key)
        cleaned = clean(text)
        removed = sum(visible_chars(text, s.start, s.end) for s in cleaned.removed)
        date_line = len("date2023-10-05") if DATES[key] else 0
        assert removed + date_line == _lost_chars(text, cleaned), key


_SIGNAL_LINES = [
    "Get The Leadout Newsletter",
    "The latest race content, interviews, features and reviews, direct to your inbox!",
    "Join now for unlimited access",
    "Thank you for reading 20 articles this month",
    "*Read 5 free articles per month",
    "By Tom Thewlis Published",
    "Cavendish in action at the 2021 Tour de France (Image credit: Getty Images)",
    "Photo credit: Getty Images",
    "You will receive a verification email shortly.",
]


@pytest.mark.parametrize("line", _SIGNAL_LINES)
def test_one_signal_is_not_a_web_page(line: str) -> None:
    text = f"Team notes\n\nThe build is green again. {NINE_SENTENCES[0]}\n\n{line}\n\nThe end.\n"
    cleaned = clean(text)
    assert [kind for kind, _ in cleaned.signals] != []
    assert not cleaned.web_page and cleaned.removed == ()
    web = clean(text, "web")
    assert web.web_page and line not in _content(text, web.segments)
    assert [s.of(text) for s in web.removed] == [line]


def test_two_kinds_of_signal_make_a_web_page() -> None:
    text = (
        "An article about a bike race. The sprinter won.\n"
        "Get The Leadout Newsletter\n"
        "More about the race and the riders.\n"
        "Join now for unlimited access\n"
        "The last paragraph of the article.\n"
    )
    cleaned = clean(text)
    assert cleaned.web_page
    assert [s.of(text) for s in cleaned.removed] == [
        "Get The Leadout Newsletter",
        "Join now for unlimited access",
    ]


def test_a_teaser_list_needs_two_items_to_be_a_web_page() -> None:
    one = "Body text.\nAlso read:\n- One other story\n\nAfter list."
    assert not clean(one).web_page
    two = "Body text.\nAlso read:\n- One other story\n- Another story\n\nAfter list."
    assert [s.of(two) for s in clean(two).segments] == ["Body text.", "After list."]


@pytest.mark.parametrize("header", ["Related work:", "Related:", "See also:", "Read more:"])
def test_lists_that_notes_write_themselves_are_no_signal(header: str) -> None:
    text = f"Some notes.\n{header}\n- First item here\n- Second item\n- Third item\n"
    cleaned = clean(text)
    assert cleaned.signals == () and cleaned.removed == ()
    assert clean(text, "web").removed == ()


def test_unknown_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="clean must be one of auto, web, none"):
        clean("text", "html")


_ORDINARY_LINES = st.sampled_from(
    [
        *NINE_SENTENCES,
        "# Heading",
        "## Related work",
        "Related work:",
        "Related:",
        "See also:",
        "Read more:",
        "- A bullet item",
        "* another bullet",
        "1. A numbered step.",
        "-",
        "By Jane Doe",
        "Published 2024-03-01",
        "Tom has been writing for Cycling Weekly since 2022.",
        "The newsletter, the terms and conditions and the sign-up form were all redesigned.",
        "a hard-wrapped continuation line",
        "Dr. J. Smith said “Yes.” Then left!",
        "",
        "   ",
        "\ufeff",
    ]
)
_NOTES = st.tuples(
    st.lists(st.one_of(_ORDINARY_LINES, st.text(max_size=40)), max_size=25),
    st.one_of(st.none(), st.sampled_from(_SIGNAL_LINES)),
    st.integers(min_value=0, max_value=25),
).map(lambda t: "\n".join(t[0][: t[2]] + ([t[1]] if t[1] else []) + t[0][t[2] :]))


@settings(max_examples=300, deadline=None)
@given(_NOTES)
def test_property_documents_without_web_signals_keep_every_line(text: str) -> None:
    """Ordinary lines, any text, and at most one web-page signal: nothing is removed."""
    assume(not _METADATA.search(text))  # front matter and the date line are metadata
    cleaned = clean(text)
    assert not cleaned.web_page
    assert cleaned.removed == ()
    assert _uncovered_lines(text, cleaned) == []


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_property_none_mode_keeps_every_line(text: str) -> None:
    assume(not _METADATA.search(text))
    cleaned = clean(text, "none")
    assert cleaned.removed == () and not cleaned.web_page
    assert _uncovered_lines(text, cleaned) == []
