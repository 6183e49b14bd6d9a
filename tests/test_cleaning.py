"""Tests of qa.cleaning.clean on the seed articles, synthetic cases and arbitrary text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.cleaning import clean
from qa.types import Span

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SEED_FILES = {p.name[:3]: p for p in sorted(SEEDS.glob("*.txt"))}

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
    content = _content(text, clean(text).segments)
    for phrase in [*BOILERPLATE, *REMOVED[key]]:
        assert phrase not in content, phrase


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


def test_seed_004_title_follows_date_prefix() -> None:
    cleaned = clean(_read("004"))
    assert cleaned.title == (
        "Mark Cavendish celebrates after winning the final stage of the 2023 Giro d'Italia in Rome"
    )


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
    cleaned = clean(text)
    assert [s.of(text) for s in cleaned.segments] == ["The article body. It is here."]


def test_image_credit_sentence_removed_from_line() -> None:
    text = "A caption here (Image credit: Getty Images)\n\nReal text here."
    cleaned = clean(text)
    assert [s.of(text) for s in cleaned.segments] == ["Real text here."]


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
    cleaned = clean(text)
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
