"""Write the mixed-format evaluation corpus, tests/data/formats/ (deterministic).

    python tests/data/make_formats_corpus.py            # rewrites tests/data/formats/

Short factual reports about an invented coastal town, Port Elling: PDF reports of several
pages, saved news pages with their boilerplate (HTML), meeting minutes (DOCX), a club handbook
(Markdown) and a note (text). tests/data/formats_questions.jsonl asks about them; most answers
sit in the PDF and HTML files. The same script always writes the same bytes (a test checks
that the committed files are its output).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from docmaker import docx_bytes, news_page, pdf_bytes

DEST = Path(__file__).resolve().parent / "formats"

WATER = [
    [
        "Elling Water Board: Annual Report 2023",
        "The Elling Water Board supplies drinking water to 41,000 people in Port Elling and "
        "the four villages of the northern district. This report covers the calendar year "
        "2023 and was approved by the board on 14 February 2024.",
        "The board met nine times during the year. Its chair, Helga Strand, stepped down in "
        "October after twelve years and was succeeded by the engineer Tomas Vik.",
        "Household tariffs rose by four percent from 1 April 2023, to 2.15 euros per cubic "
        "metre. Businesses pay a separate tariff that did not change.",
    ],
    [
        "Reservoirs and supply",
        "The Holm reservoir held 4.2 million cubic metres of water at the end of August, the "
        "lowest level recorded since the drought summer of 2018. A hosepipe ban was in force "
        "from 20 July to 15 September.",
        "Average daily consumption was 148 litres per person, down from 156 litres in 2022. "
        "The board credits the fall to the hosepipe ban and to 2,300 new household meters.",
    ],
    [
        "Leaks and investment",
        "Crews repaired 612 leaks in the distribution network during the year. Leakage fell "
        "to 17 percent of the water put into supply, against a target of 15 percent by 2026.",
        "Construction of the new treatment plant at Skarv began in May. The plant will cost "
        "38 million euros and is due to open in 2026, when it will replace the ageing "
        "filters at the old Harbour Road works.",
    ],
]

FERRY = [
    [
        "Northfjord Ferry Services: Passenger Survey 2024",
        "Northfjord Ferry Services runs the car ferries between Port Elling, Holm island and "
        "Skarv. The survey was carried out in March 2024 and 1,870 passengers took part.",
        "Overall, 81 percent of passengers said they were satisfied or very satisfied with "
        "the service, up from 74 percent in the previous survey in 2022.",
        "The most common complaint was the lack of an evening crossing to Skarv; 43 percent of "
        "Skarv residents asked for a departure after eight in the evening.",
    ],
    [
        "Punctuality and prices",
        "In 2023, 92 percent of crossings left within five minutes of the timetable. Most "
        "delays were caused by autumn storms, which cancelled 64 crossings in total.",
        "A return ticket for a car and driver costs 38 euros. Passengers rated the price as "
        "the weakest part of the service, with only 35 percent calling it fair.",
        "The company will order a second electric ferry in 2025, so that both routes can be "
        "run without diesel by 2027.",
    ],
]

LIBRARY = [
    [
        "Port Elling Public Library: Annual Review 2023",
        "The library lent 212,000 books, films and audio books in 2023, nine percent more "
        "than in 2022. E-book loans made up a quarter of all loans for the first time.",
        "The main library on Market Square had 96,000 visitors. The reading room was closed "
        "for six weeks in the spring while its roof was replaced.",
    ],
    [
        "New branch and programmes",
        "A new branch library opened in the Skarv community centre on 2 September 2023. It "
        "is open four days a week and holds 8,000 books.",
        "The homework club for pupils met twice a week and had 140 regular members. The "
        "library also ran 38 language cafés for newcomers learning Norwegian.",
        "Head librarian Ragnhild Moe will retire in June 2024 after nineteen years at the library.",
    ],
]

WIND = [
    [
        "Holm Island Wind Farm: Environmental Monitoring Report 2023",
        "The Holm Island wind farm has fourteen turbines with a combined capacity of 58 "
        "megawatts. It is owned by the municipal energy company Elling Kraft.",
        "In 2023 the farm produced 171 gigawatt hours of electricity, enough for about 34,000 "
        "homes. Output was lower than forecast because of a calm February.",
    ],
    [
        "Birds",
        "Observers found 23 dead birds under the turbines during weekly searches, most of "
        "them gulls. No white-tailed eagles were found dead, against three in 2021.",
        "Since 2022 the blades of turbine 7 have been painted black on one side, a measure "
        "that studies elsewhere show reduces collisions by birds of prey.",
    ],
    [
        "Noise and shadow flicker",
        "Noise at the nearest house, 900 metres from the closest turbine, was measured at "
        "38 decibels at night, below the limit of 40 decibels.",
        "Residents made 11 complaints about shadow flicker. The turbines now stop "
        "automatically for up to 30 minutes on clear winter mornings when the shadow reaches "
        "the houses at Nordvik.",
    ],
]

NEWS = {
    "harbour-bridge-reopens.html": (
        "Harbour bridge reopens after eleven months of repairs",
        "2024-03-18",
        "Mara Lind",
        [
            "The harbour bridge in Port Elling reopened to traffic on Monday after eleven "
            "months of repairs that cost 14 million euros.",
            "Engineers replaced all 212 steel cables and resurfaced the deck with a lighter "
            "asphalt mix, the city's transport office said.",
            "The mayor, Siri Dahl, said she expects traffic on the bridge to return to 30,000 "
            "vehicles a day by the summer.",
            "For the first time since the bridge opened in 1971, cyclists get a separate lane "
            "on its eastern side.",
        ],
    ),
    "bakery-wins-bread-award.html": (
        "Harbour Road bakery wins national bread award",
        "2024-04-09",
        "Jon Aas",
        [
            "A small bakery on Harbour Road has won the national bread championship with a "
            "sourdough loaf made from rye grown on Holm island.",
            "Baker Leila Haddad opened the bakery in 2019 with one oven and now employs seven "
            "people.",
            "The winning loaf is proved for 36 hours before it is baked. The judges praised "
            "its thin, dark crust.",
            "Haddad said the prize money of 5,000 euros will pay for a second oven.",
        ],
    ),
    "council-approves-cycle-network.html": (
        "Council approves 22 kilometre cycle network",
        "2024-05-23",
        "Mara Lind",
        [
            "The town council voted 27 to 12 on Wednesday to build a network of protected "
            "cycle lanes 22 kilometres long.",
            "The first stretch, from the railway station to the university campus, will be "
            "built next year. The whole network should be finished by 2029.",
            "The plan will cost 19 million euros, half of which comes from a national grant "
            "for active travel.",
            "About 300 parking spaces in the town centre will be removed to make room for the "
            "lanes, which shop owners have opposed.",
        ],
    ),
    "marathon-record-field.html": (
        "Record field runs the Port Elling marathon",
        "2024-06-10",
        "Ola Berg",
        [
            "A record 4,600 runners started the Port Elling marathon on Sunday, almost a "
            "thousand more than last year.",
            "The men's race was won by Daniel Kiprop in 2 hours 11 minutes. Astrid Lunde won "
            "the women's race in 2 hours 29 minutes, a course record.",
            "Temperatures of 24 degrees made the second half hard, and medical teams treated "
            "85 runners for heat exhaustion.",
            "Next year's race will start an hour earlier, at eight in the morning, to avoid "
            "the midday heat.",
        ],
    ),
    "heatwave-hospital.html": (
        "Heatwave fills the emergency ward at Elling hospital",
        "2024-07-26",
        "Jon Aas",
        [
            "Elling hospital treated 112 patients for heat-related illness during the eight-day "
            "heatwave that ended on Thursday.",
            "Most of them were over 75. The hospital opened a second ward with cooled rooms and "
            "asked visitors to bring water for older relatives.",
            "The highest temperature, 33.1 degrees, was measured at the airport on 21 July, "
            "the warmest day since records began in 1958.",
        ],
    ),
}

MINUTES = [
    ("title", "Elling Sailing Club: Minutes of the Annual Meeting"),
    ("paragraph", "The annual meeting was held in the clubhouse on 12 March 2024."),
    ("heading1", "Accounts"),
    ("paragraph", "The club ended 2023 with a surplus of 6,400 euros."),
    ("table", [["Item", "Euros"], ["Membership fees", "31,000"], ["Boat repairs", "12,500"]]),
    ("heading1", "Elections"),
    ("paragraph", "Kari Nes was elected commodore for two years."),
]

HANDBOOK = """---
title: Rowing club handbook
date: 2024-05-02
author: Ida Berg
---
# Rowing club handbook

The club owns eleven boats and two trailers, kept in the boathouse at the north pier.

## Safety

Every rower must pass a swimming test of 200 metres before the first outing. Nobody rows
alone when the water is colder than ten degrees.

## Membership fees

The yearly fee is 180 euros, and students pay half.
"""

NOTE = """Boathouse note

The boathouse roof will be repaired in June; the boats move to the south pier meanwhile.
"""


def files() -> dict[str, bytes]:
    """Every file of the corpus, by name."""
    out = {
        "reports/water-board-2023.pdf": pdf_bytes(
            WATER, title="Elling Water Board Annual Report 2023", date="2024-02-14"
        ),
        "reports/ferry-survey-2024.pdf": pdf_bytes(FERRY, author="Northfjord Ferry Services"),
        "reports/library-review-2023.pdf": pdf_bytes(
            LIBRARY, title="Port Elling Public Library Annual Review 2023", date="2024-01-30"
        ),
        "reports/wind-farm-monitoring-2023.pdf": pdf_bytes(WIND),
        "clubs/sailing-minutes-2024.docx": docx_bytes(MINUTES, author="Elling Sailing Club"),
        "clubs/rowing-handbook.md": HANDBOOK.encode("utf-8"),
        "clubs/boathouse-note.txt": NOTE.encode("utf-8"),
    }
    for name, (title, date, author, paragraphs) in NEWS.items():
        page = news_page(title, paragraphs, author=author, date=date, site="Elling Tidende")
        out[f"news/{name}"] = page.encode("utf-8")
    return out


def write(dest: Path = DEST) -> list[Path]:
    written = []
    for name, data in sorted(files().items()):
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else DEST):
        print(path)
