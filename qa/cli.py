"""The `qa` command: a thin layer that prints what the library returns.

Library errors (QAError) and usage errors become one line on stderr and a non-zero exit code;
no traceback is shown.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import click

from .config import CLEAN_MODES, RAY_LOCAL, Settings
from .errors import QAError
from .signals import Terminated, stop_on_signals
from .types import BuildReport, Citation, RemovedText

if TYPE_CHECKING:
    from .evaluate import GoldReport

EXIT_ERROR = 1
EXIT_USAGE = 2


def _settings(
    model: str | None = None,
    device: str | None = None,
    clean: str | None = None,
    llm_url: str | None = None,
    llm_model: str | None = None,
    store: str | None = None,
) -> Settings:
    return Settings.from_env(
        model=model, device=device, clean=clean, llm_url=llm_url, llm_model=llm_model, store=store
    )


_store_option = click.option(
    "--store",
    default=None,
    metavar="STORE",
    help="Where the index lives: local (the --index folder; the default, or QA_STORE), "
    "milvus:PATH.db (a Milvus Lite file) or milvus:http://HOST:19530 (a Milvus server; its "
    "token in QA_MILVUS_TOKEN). With Milvus, a build keeps its working copy in --index.",
)


def _llm_options(command: Any) -> Any:
    """--llm-url and --llm-model: generative answers from a local OpenAI-compatible server."""
    url = click.option(
        "--llm-url",
        default=None,
        metavar="URL",
        help="OpenAI-compatible base URL of a local language model, e.g. "
        "http://127.0.0.1:11434/v1 (QA_LLM_URL). Passages are sent there and nowhere else.",
    )
    model = click.option(
        "--llm-model", default=None, help="Model name on that server (QA_LLM_MODEL)."
    )
    return url(model(command))


def _cleaning_lines(report: BuildReport, clean: str) -> list[str]:
    """One line a file that lost text as boilerplate (files that lost none are counted)."""
    lost = [c for c in report.cleaning if c.removed_chars]
    lines = [
        f"Removed as boilerplate (--clean {clean}): {len(lost)} of {len(report.cleaning)} "
        f"files lost text" + (":" if lost else "")
    ]
    width = max((len(c.source) for c in lost), default=0)
    for c in lost:
        lines.append(
            f"  {c.source:<{width}}  {c.share:6.1%}  "
            f"({c.removed_chars:,} of {c.total_chars:,} characters)"
        )
    return lines


def _formats_line(report: BuildReport) -> str:
    """Files read, skipped and failed, by format, on one line."""
    parts = []
    for f in report.formats:
        counts = [f"{f.read} read"]
        counts += [f"{f.skipped} skipped"] if f.skipped else []
        counts += [f"{f.failed} failed"] if f.failed else []
        parts.append(f"{f.format} {', '.join(counts)}")
    return "Files by format: " + "; ".join(parts)


_UNITS = {"read": "file", "embed": "text", "write": "step"}


class _Bars:
    """One tqdm progress bar a build phase (read, embed, write) on stderr, with counts and
    ETA; silent when stderr is not a terminal or when asked to be quiet."""

    def __init__(self, quiet: bool) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self.phase = ""
        self.bar: Any = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if phase != self.phase:
            from tqdm import tqdm

            self.close()
            self.phase = phase
            unit = _UNITS.get(phase, "it")
            self.bar = tqdm(total=total, unit=unit, desc=f"{phase:<5}", file=sys.stderr)
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _where(c: Citation) -> str:
    """Where a quoted sentence stands: page and section, where its file has them."""
    parts = [f"p. {c.page}"] if c.page is not None else []
    if c.section:
        parts.append(f"“{c.section}”")
    return ", ".join(parts) + ", " if parts else ""


def _removed_lines(removed: RemovedText) -> list[str]:
    verdict = "a web page" if removed.web_page else "not a web page"
    if not removed.spans:
        return [f"{removed.source}: nothing removed ({verdict}; --clean {removed.clean})"]
    share = removed.removed_chars / removed.total_chars if removed.total_chars else 0.0
    lines = [
        f"{removed.source}: {removed.removed_chars:,} of {removed.total_chars:,} characters "
        f"removed ({share:.1%}) in {len(removed.spans)} span(s); {verdict} "
        f"(--clean {removed.clean})"
    ]
    for span in removed.spans:
        lines.append(f"chars {span.start}-{span.end}:")
        lines.extend(f"    {line}" for line in span.text.split("\n"))
    return lines


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qa")
def cli() -> None:
    """Ask questions about a folder of articles, answered with cited passages. Offline."""


@cli.command()
@click.option(
    "--corpus",
    default="seeds",
    show_default=True,
    help="Folder of articles: .txt, .md, .html, .pdf, .docx (QA_EXTENSIONS picks formats).",
)
@click.option("--index", "index_dir", default="index", show_default=True, help="Index folder.")
@click.option("--full", is_flag=True, help="Re-embed everything instead of only what changed.")
@click.option(
    "--device",
    default=None,
    help="Torch device for embedding (cpu, cuda, ...); default: a CUDA GPU when present (float16).",
)
@click.option(
    "--clean",
    type=click.Choice(CLEAN_MODES),
    default=None,
    help="Boilerplate removal: auto (only files that look like scraped web pages; the "
    "default, or QA_CLEAN), web (every file), none (keep every line).",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes reading, cleaning and chunking a large corpus; default: one per "
    "core on machines of 4 cores or more, else 1.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Keep running: build again each time a file in the corpus changes (the model stays "
    "loaded). Ctrl-C stops.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="With --watch: seconds between looks at the corpus (more on a large one).",
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value=RAY_LOCAL,
    default=None,
    metavar="[ADDRESS]",
    help="Embed on a Ray cluster (the 'ray' extra): 'auto' joins the one running here, "
    "host:port or ray://host:port a head node; bare --ray starts a local Ray (QA_RAY_ADDRESS).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@_store_option
def build(
    corpus: str,
    index_dir: str,
    full: bool,
    device: str | None,
    clean: str | None,
    processes: int | None,
    watch: bool,
    interval: float,
    ray_address: str | None,
    as_json: bool,
    quiet: bool,
    store: str | None,
) -> None:
    """Build or update the index (only new and changed files are embedded)."""
    from .api import build_index

    settings = _settings(device=device, clean=clean, store=store)
    if ray_address is not None:
        settings = settings.with_(ray_address=ray_address)
    bars = _Bars(quiet or as_json)
    if watch:
        _watch(corpus, index_dir, full, settings, processes, interval, as_json, bars)
        return
    try:
        report = build_index(
            corpus, index_dir, full=full, settings=settings, phases=bars, processes=processes
        )
    finally:
        bars.close()
    _print_report(report, settings.clean, json.dumps(asdict(report), indent=2) if as_json else "")


def _print_report(
    report: BuildReport, clean: str, as_json: str, shown: set[str] | None = None
) -> None:
    """What a build did: its warnings and skipped files on stderr; on stdout its summary, or
    ``as_json`` when given (the report as JSON). ``shown`` (--watch): the lines earlier
    builds printed, which are not printed again; the summary always is."""

    def new(line: str) -> bool:
        if shown is None:
            return True
        fresh = line not in shown
        shown.add(line)
        return fresh

    for line in [f"warning: {w}" for w in report.warnings] + [
        f"skipped: {s}" for s in report.skipped
    ]:
        if new(line):
            click.echo(line, err=True)
    if as_json:
        click.echo(as_json)
        return
    header, *files = _cleaning_lines(report, clean)
    fresh = [line for line in files if new(line)]  # a file's line, the first time it shows
    if fresh or shown is None:
        for line in [header, *fresh]:
            click.echo(line)
    formats = _formats_line(report)
    if new(formats):
        click.echo(formats)
    if not report.wrote:
        click.echo(
            f"Index is up to date: {report.files} files, {report.chunks} chunks, nothing changed "
            f"({report.seconds:.1f}s) -> {report.index_dir}"
        )
        return
    how = f"full rebuild: {report.reason}" if report.full else "incremental"
    if report.resumed:
        click.echo(f"Resumed {report.resumed} embeddings saved by an interrupted build")
    click.echo(
        f"Indexed {report.files} files, {report.chunks} chunks in {report.seconds:.1f}s ({how}): "
        f"{report.embedded} embedded, {report.reused} reused, {report.removed} files removed, "
        f"{len(report.skipped)} skipped -> {report.index_dir}"
    )


def _watch(
    corpus: str,
    index_dir: str,
    full: bool,
    settings: Settings,
    processes: int | None,
    interval: float,
    as_json: bool,
    bars: _Bars,
) -> None:
    """``qa build --watch``: each build's report as ``qa build`` prints it (with --json, one
    line of JSON a build), less the lines an earlier build printed, and errors on stderr,
    until Ctrl-C. A build that finds nothing changed prints nothing (but the first)."""
    from .indexing.watch import watch

    builds, shown, told = 0, set[str](), False

    def watching() -> None:  # said once, after the first build or error
        nonlocal told
        if not told:
            click.echo(f"Watching {corpus} for changes (Ctrl-C stops)", err=True)
            told = True

    def on_build(report: BuildReport) -> None:
        nonlocal builds
        bars.close()
        if report.wrote or not builds:
            as_line = json.dumps(asdict(report)) if as_json else ""
            _print_report(report, settings.clean, as_line, shown)
        builds += 1
        watching()

    def on_error(exc: QAError) -> None:
        bars.close()
        click.echo(f"Error: {exc}", err=True)
        watching()

    try:
        watch(
            corpus, index_dir, on_build=on_build, on_error=on_error, settings=settings,
            interval=interval, full=full, phases=bars, processes=processes,
        )  # fmt: skip
    except KeyboardInterrupt:
        bars.close()
        click.echo("Stopped watching.", err=True)


@cli.command()
@click.argument("question")
@click.option("-k", "k", default=5, show_default=True, help="Number of passages.")
@click.option("--index", "index_dir", default="index", show_default=True, help="Index folder.")
@click.option("--json", "as_json", is_flag=True, help="Print answer and passages as JSON.")
@_llm_options
@_store_option
def ask(
    question: str,
    k: int,
    index_dir: str,
    as_json: bool,
    llm_url: str | None,
    llm_model: str | None,
    store: str | None,
) -> None:
    """Answer QUESTION with quoted sentences and the passages they come from."""
    from .answer.extractive import status_line
    from .api import ask as ask_

    settings = _settings(llm_url=llm_url, llm_model=llm_model, store=store)
    answer = ask_(question, k=k, index_dir=index_dir, settings=settings)
    if as_json:
        click.echo(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return
    if answer.note:
        click.echo(answer.note)
    if answer.origin == "generated":
        click.echo(f"{answer.text}\n(written by {answer.generator}; cited sentences:)")
        for c in answer.citations:
            click.echo(f"  [{c.number}] {c.text} ({c.source}, chars {c.start}-{c.end})")
    elif answer.status == "answered":
        marks = " ".join(f"[{c.number}]" for c in answer.citations)
        click.echo(f"{answer.text} {marks}")
        for c in answer.citations:
            click.echo(f"  [{c.number}] {c.source} ({_where(c)}chars {c.start}-{c.end}) {c.title}")
    else:
        click.echo(status_line(answer.status, answer.missing, answer.question))
        for c in answer.citations:
            click.echo(f"  {c.text} [{c.number}]")
            click.echo(f"  [{c.number}] {c.source} ({_where(c)}chars {c.start}-{c.end}) {c.title}")
    click.echo(f"(confidence {answer.confidence:.2f})")
    click.echo("")
    for h in answer.passages:
        date = f", {h.date}" if h.date else ""
        page = f", p. {h.page}" if h.page is not None else ""
        click.echo(f"#{h.rank} {h.source}{page}{date} score {h.score:.3f}: {h.title}")
        click.echo("   " + " ".join(h.text.split())[:300])


@cli.command()
@click.option("--index", "index_dir", default="index", show_default=True, help="Index folder.")
@click.option(
    "--removed",
    "removed_file",
    metavar="FILE",
    default=None,
    help="Print what was removed from FILE as boilerplate: offsets and text of each span.",
)
@click.option("--json", "as_json", is_flag=True, help="With --removed: print JSON.")
@_store_option
def status(index_dir: str, removed_file: str | None, as_json: bool, store: str | None) -> None:
    """Show what the index holds (as JSON) and whether the corpus changed since it was built."""
    from .api import index_info, removed_text

    if removed_file is None:
        info = index_info(index_dir, settings=_settings(store=store))
        click.echo(json.dumps(info, indent=2, ensure_ascii=False))
        return
    removed = removed_text(removed_file, index_dir, settings=_settings(store=store))
    if as_json:
        click.echo(json.dumps(asdict(removed), indent=2, ensure_ascii=False))
        return
    for line in _removed_lines(removed):
        click.echo(line)


@cli.command()
@click.option("--index", "index_dir", default="index", show_default=True, help="Index folder.")
@_store_option
def verify(index_dir: str, store: str | None) -> None:
    """Check every file of the index against its checksum (loading checks sizes and times)."""
    from .api import verify_index

    checked = verify_index(index_dir, settings=_settings(store=store))
    if checked.get("store") == "milvus":
        click.echo(
            f"index {checked['index_dir']} ({checked['generation']}): {checked['files']} files, "
            f"{checked['chunks']:,} chunks, {checked['sentences']:,} sentences, "
            f"{checked['terms']:,} terms, every count matches"
        )
        return
    click.echo(
        f"index {checked['index_dir']} ({checked['generation']}): {checked['files']} files, "
        f"{checked['bytes']:,} bytes, every checksum matches"
    )


@cli.command()
@click.option("--index", "index_dir", default="index", show_default=True, help="Index folder.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=7860, show_default=True, type=int, help="Port to listen on.")
@_llm_options
@_store_option
def serve(
    index_dir: str,
    host: str,
    port: int,
    llm_url: str | None,
    llm_model: str | None,
    store: str | None,
) -> None:
    """Chat with the articles in a browser (the index must be built first)."""
    from .web.ui import serve as serve_

    settings = _settings(llm_url=llm_url, llm_model=llm_model, store=store)
    serve_(index_dir, host, port, settings=settings)


@cli.command(name="eval")
@click.argument("gold", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--index", "index_dir", default="index", show_default=True, help="Index folder.")
@click.option("-k", "k", default=5, show_default=True, help="Passages per question.")
@click.option("--beir", "beir", default=None, help="Evaluate on a BEIR dataset folder instead.")
@click.option("--split", default="test", show_default=True, help="BEIR qrels split.")
@click.option("--limit", default=None, type=int, help="BEIR: only the first N queries.")
@click.option(
    "--work", default=".eval-cache", show_default=True, help="BEIR: where corpus and index go."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def eval_command(
    gold: tuple[str, ...],
    index_dir: str,
    k: int,
    beir: str | None,
    split: str,
    limit: int | None,
    work: str,
    as_json: bool,
) -> None:
    """Score the index against GOLD.jsonl files (scored as one set), or a BEIR dataset.

    GOLD.jsonl has one {"question", "sources", "answers"} object a line (no sources: the
    articles do not answer it). Prints hit@k, the precision and coverage of quoted answers,
    lead accuracy, declines, a reliability table of the confidence, latency and the misses.
    With --beir, builds (or reuses) an index of the dataset under --work and prints nDCG@10,
    Recall@10, Recall@100 and MRR@10 (document-level, as BEIR/pytrec_eval).
    """
    from .evaluate import evaluate_beir, evaluate_gold, load_gold

    if beir:
        result = evaluate_beir(beir, work, split=split, settings=_settings(), limit=limit)
        if as_json:
            click.echo(json.dumps(asdict(result), indent=2, ensure_ascii=False))
            return
        click.echo(
            f"{result.dataset} ({result.split}, {result.queries} queries, {result.documents} "
            f"documents): nDCG@10 {result.ndcg10:.4f}  Recall@10 {result.recall10:.4f}  "
            f"Recall@100 {result.recall100:.4f}  MRR@10 {result.mrr10:.4f}"
        )
        click.echo(
            f"build {result.build_seconds:.1f}s ({result.embedded} chunks embedded); "
            f"query latency p50 {result.p50_ms:.0f} ms, p95 {result.p95_ms:.0f} ms"
        )
        return
    if not gold:
        raise click.UsageError("give GOLD.jsonl files or --beir DIR")
    questions = [q for path in gold for q in load_gold(path)]
    report = evaluate_gold(questions, index_dir=index_dir, k=k, settings=_settings())
    if as_json:
        click.echo(json.dumps(asdict(report), indent=2, ensure_ascii=False))
        return
    for line in _gold_lines(report):
        click.echo(line)


def _gold_lines(report: GoldReport) -> list[str]:
    lines = []
    if report.questions:
        lines += [
            f"{report.questions} answerable: hit@1 {report.hit1:.3f}  hit@5 {report.hit5:.3f}  "
            f"MRR@5 {report.mrr5:.3f}  likeliest sentence right {report.answer_sentence:.3f}",
            f"  answered: coverage {report.coverage:.3f}, precision {report.precision:.3f}; "
            f"lead accuracy {report.lead:.3f}; false declines (not_found) "
            f"{report.false_declines:.3f}",
            f"  reader, over the {report.reader_questions} questions whose top passages hold an "
            f"answering sentence: MAP {report.reader_map:.3f}  MRR {report.reader_mrr:.3f}  "
            f"P@1 {report.reader_p1:.3f}",
        ]
    if report.unanswerable:
        lines.append(
            f"{report.unanswerable} unanswerable: no answer asserted {report.no_answer:.3f}, "
            f"not_found {report.not_found:.3f}"
        )
    lines.append(f"confidence: expected calibration error {report.ece:.3f}")
    lines += [
        f"  {low:.1f}-{high:.1f}: {count:3d} questions, mean confidence {mean:.2f}, "
        f"right {accuracy:.2f}"
        for low, high, count, mean, accuracy in report.reliability
    ]
    lines.append(f"latency p50 {report.p50_ms:.0f} ms, p95 {report.p95_ms:.0f} ms")
    lines += [
        f"miss {m['id']} ({m['status']}, rank {m['rank'] or '-'}): {m['question']}"
        for m in report.misses
    ]
    return lines


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every expected error into one line."""
    stop_on_signals()
    try:
        cli.main(args=argv, prog_name="qa", standalone_mode=False)
    except QAError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `qa` alone: show the help
            click.echo(exc.format_message())
            sys.exit(0)
        click.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        # Click turns a Ctrl-C into Abort; SIGTERM comes as Terminated (qa.signals).
        if isinstance(exc, Terminated) or isinstance(exc.__cause__, Terminated):
            click.echo("Stopped.", err=True)
            sys.exit(143)
        click.echo(
            "Aborted." if isinstance(exc, click.exceptions.Abort) else "Interrupted.", err=True
        )
        sys.exit(130)


if __name__ == "__main__":
    main()
