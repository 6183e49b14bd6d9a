"""Security of the web app: documents' markup is shown as text, no file outside the corpus and
the index is served (path traversal), the app binds loopback by default, warns on another
address and takes a password (QA_AUTH, QA_AUTH_FILE), odd questions through /ask are answered
or refused with a clear message, and question text never reaches a log line unescaped.

The tests that start the app (`python app.py`, hashing embedder, loopback) are marked
``integration``.
"""

from __future__ import annotations

import http.client
import json
import logging
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from appserver import App, listening_addresses, running_app

from qa import Settings, ask, build_index
from qa.errors import ConfigError
from qa.web.ui import is_loopback, launch, read_auth, reply_html

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
HASH = Settings(model="hash-384")
SECRET = "TOP-SECRET-7f3a9 do not serve"
HOSTILE_TXT = (
    "Zanzibar pineapple festival <script>alert('txt')</script> opens\n\n"
    "The Zanzibar pineapple festival opened with <img src=x onerror=alert(1)> a parade.\n"
    'Organisers printed <a href="javascript:alert(2)">tickets</a> for the pineapple parade.\n'
)
HOSTILE_MD = (
    "# Pineapple <iframe src=//evil.example></iframe> heading\n\n"
    "The pineapple parade used <style>body{display:none}</style> giant floats.\n"
    "Judges said <svg onload=alert(3)> the pineapple floats were tall.\n"
)
HOSTILE_HTML = (
    "<html><head><title>Pineapple &lt;script&gt;alert(4)&lt;/script&gt; page</title></head>"
    "<body><article><h1>Pineapple page</h1>"
    "<p>The pineapple parade page said &lt;script&gt;alert(5)&lt;/script&gt; in plain text, "
    "and the parade was long and the floats were tall and the crowd cheered loudly.</p>"
    "<script>alert('real script')</script>"
    "<p>A second paragraph about the pineapple parade with <b onclick=alert(6)>bold</b> text "
    "and more words so that the page counts as an article.</p></article></body></html>"
)


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder: corpus/ (seeds + hostile articles), index/, and a secret file next
    to them that must never be served."""
    work = tmp_path_factory.mktemp("security")
    corpus = work / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "hostile.txt").write_text(HOSTILE_TXT, encoding="utf-8")
    (corpus / "hostile.md").write_text(HOSTILE_MD, encoding="utf-8")
    (corpus / "hostile.html").write_text(HOSTILE_HTML, encoding="utf-8")
    (work / "secret.txt").write_text(SECRET, encoding="utf-8")
    build_index(corpus, work / "index", settings=HASH)
    return work


@pytest.fixture(scope="module")
def app(site: Path) -> Iterator[App]:
    with running_app(site / "index", site) as running:
        yield running


def get(app: App, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (http.client never normalises ``..``)."""
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def post(app: App, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": content_type})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# Markup in documents is text


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _assert_inert(page: str) -> None:
    parser = _Tags()
    parser.feed(page)
    for tag, attrs in parser.tags:
        assert tag not in {"script", "img", "iframe", "svg", "style", "a", "object"}, tag
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            assert "javascript:" not in (value or "").lower(), (tag, name, value)


@pytest.mark.parametrize(
    ("question", "source", "shown"),
    [
        ("Zanzibar pineapple festival parade", "hostile.txt", "&lt;img src=x onerror=alert(1)&gt;"),
        ("pineapple floats tall judges", "hostile.md", "&lt;svg onload=alert(3)&gt;"),
        ("pineapple parade page plain text", "hostile.html", "&lt;script&gt;alert(5)"),
    ],
)
def test_markup_inside_documents_is_shown_as_text(
    site: Path, question: str, source: str, shown: str
) -> None:
    """A reply quoting hostile .txt, .md and .html articles (passages, citations and the whole
    article) holds no live tag or handler: the markup is there, escaped, as text."""
    answer = ask(question, k=3, index_dir=site / "index", settings=HASH)
    assert answer.passages[0].source == source
    page, _ = reply_html(question, None, 3, str(site / "index"), HASH)
    _assert_inert(page)
    assert shown in page
    assert "alert('real script')" not in page  # the HTML reader drops real scripts


def test_inertness_check_can_fail() -> None:
    with pytest.raises(AssertionError):
        _assert_inert('<p>ok</p><img src=x onerror="alert(1)">')
    with pytest.raises(AssertionError):
        _assert_inert('<span onclick="alert(1)">x</span>')
    with pytest.raises(AssertionError):
        _assert_inert('<a href="javascript:alert(1)" target="_blank" rel="noopener">x</a>')


# ---------------------------------------------------------------------------------------------
# No file outside the corpus and the index is served


TRAVERSALS = [
    "/gradio_api/file=/etc/passwd",
    "/gradio_api/file=../../../../../../../etc/passwd",
    "/gradio_api/file=..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/gradio_api/file=%2Fetc%2Fpasswd",
    "/gradio_api/file=%252Fetc%252Fpasswd",
    "/gradio_api/file=/proc/self/environ",
    "/gradio_api/file=/proc/self/cmdline",
    "/gradio_api/file=secret.txt",
    "/gradio_api/file=./secret.txt",
    "/gradio_api/file=corpus/../secret.txt",
    "/gradio_api/file={work}/secret.txt",
    "/gradio_api/file={work}/corpus/../secret.txt",
    "/gradio_api/file={work}/corpus/..%2Fsecret.txt",
    "/gradio_api/file={root}/app.py",
    "/gradio_api/file={work}/app.log",
    "/file=/etc/passwd",
    "/file=../../../../../../etc/passwd",
    "/file={work}/secret.txt",
    "/static/../../../../../../etc/passwd",
    "/static/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/assets/../../../../../../etc/passwd",
    "/assets/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/gradio_api/../../../../../../etc/passwd",
    "/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/gradio_api/file=%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/gradio_api/file=..\\..\\..\\..\\etc\\passwd",
    "/gradio_api/file=/etc/passwd%00.txt",
    "/gradio_api/file=file:///etc/passwd",
    "/gradio_api/proxy=file:///etc/passwd",
    "/gradio_api/file={work}/index/../secret.txt",
]


@pytest.mark.integration
@pytest.mark.parametrize("template", TRAVERSALS)
def test_path_traversal_is_refused(app: App, site: Path, template: str) -> None:
    path = template.format(work=site, root=ROOT)
    status, body = get(app, path)
    assert status in (400, 401, 403, 404, 405), (path, status, body[:200])
    assert SECRET.encode() not in body
    assert b"root:x:0:0" not in body and b"QA_MODEL" not in body


def _upload(app: App) -> int:
    boundary = "qa-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="x.html"\r\n'
        f"Content-Type: text/html\r\n\r\n<script>alert(1)</script>\r\n--{boundary}--\r\n"
    ).encode()
    status, _ = post(app, "/gradio_api/upload", body, f"multipart/form-data; boundary={boundary}")
    return status


@pytest.mark.integration
def test_uploads_only_where_documents_may_be_added(app: App, site: Path, tmp_path: Path) -> None:
    """On loopback the page takes documents ("Add documents"), so Gradio takes the upload;
    where adding documents is off (another address without a password, or QA_UPLOADS=0) every
    upload is refused, so nobody can fill the disk through it."""
    assert _upload(app) == 200
    with running_app(site / "index", tmp_path, env={"QA_UPLOADS": "0"}) as closed:
        assert _upload(closed) == 413


@pytest.mark.integration
def test_traversal_check_can_fail(app: App) -> None:
    """The page itself is served: the checks above would see a served file."""
    status, body = get(app, "/")
    assert status == 200 and b"<html" in body.lower()


@pytest.mark.integration
def test_binds_loopback_by_default(app: App) -> None:
    addresses = listening_addresses(app.port)
    if not addresses:
        pytest.skip("no /proc/net/tcp to read the listening address from")
    assert addresses == {"127.0.0.1"}


# ---------------------------------------------------------------------------------------------
# Another address warns; passwords


class _FakeApp:
    def __init__(self) -> None:
        self.kwargs: dict[str, Any] = {}

    def launch(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_launch_does_not_warn(host: str, caplog: pytest.LogCaptureFixture) -> None:
    fake = _FakeApp()
    with caplog.at_level(logging.WARNING, logger="qa.web.ui"):
        launch(fake, host, 7860)
    assert not caplog.records
    assert fake.kwargs["server_name"] == host and fake.kwargs["share"] is False
    assert fake.kwargs["auth"] is None and fake.kwargs["max_file_size"] == 0


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.org"])
def test_other_addresses_warn(host: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="qa.web.ui"):
        launch(_FakeApp(), host, 7860)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert host in message and "QA_AUTH=user:password" in message
    caplog.clear()
    fake = _FakeApp()
    with caplog.at_level(logging.WARNING, logger="qa.web.ui"):
        launch(fake, host, 7860, auth=[("alice", "pw")])
    assert "password required" in caplog.records[0].getMessage()
    assert fake.kwargs["auth"] == [("alice", "pw")]


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.0.0.1")


def test_read_auth_from_variable_and_file(tmp_path: Path) -> None:
    assert read_auth({}) is None
    assert read_auth({"QA_AUTH": "alice:s3cret:with:colons"}) == [("alice", "s3cret:with:colons")]
    users = tmp_path / "users"
    users.write_text("# who may ask\nbob:pw1\n\n  carol:pw 2\n", encoding="utf-8")
    assert read_auth({"QA_AUTH_FILE": str(users)}) == [("bob", "pw1"), ("carol", "pw 2")]
    both = read_auth({"QA_AUTH": "alice:x", "QA_AUTH_FILE": str(users)})
    assert both == [("alice", "x"), ("bob", "pw1"), ("carol", "pw 2")]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QA_AUTH": "alice"}, "QA_AUTH must be user:password"),
        ({"QA_AUTH": ":hunter2"}, "QA_AUTH must be user:password"),
        ({"QA_AUTH": "alice:"}, "QA_AUTH must be user:password"),
        ({"QA_AUTH_FILE": "{dir}/missing"}, "cannot be read"),
        ({"QA_AUTH_FILE": "{dir}/bad"}, "bad, line 2 must be user:password"),
        ({"QA_AUTH_FILE": "{dir}/empty"}, "holds no user:password line"),
    ],
)
def test_malformed_auth_is_a_clear_error(tmp_path: Path, env: dict[str, str], message: str) -> None:
    (tmp_path / "bad").write_text("bob:pw\nhunter2\n", encoding="utf-8")
    (tmp_path / "empty").write_text("# nobody yet\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_auth({k: v.format(dir=tmp_path) for k, v in env.items()})
    text = str(info.value)
    assert message in text and "\n" not in text
    assert "hunter2" not in text  # a password is never echoed


def test_app_with_malformed_auth_stops_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from qa.web import ui

    monkeypatch.setenv("QA_AUTH", "no-colon-here")
    monkeypatch.setattr(ui, "launch", lambda *a, **k: pytest.fail("must not serve"))
    with pytest.raises(SystemExit) as done:
        ui.main(["--index", str(tmp_path / "index"), "--corpus", str(tmp_path)])
    assert done.value.code == 1
    assert (
        capsys.readouterr().err.strip() == "Error: QA_AUTH must be user:password (both non-empty)"
    )


@pytest.mark.integration
def test_password_is_required_when_set(site: Path, tmp_path: Path) -> None:
    from gradio_client import Client

    users = tmp_path / "users"
    users.write_text("alice:correct horse\nbob:battery:staple\n", encoding="utf-8")
    question = "why did Cavendish un-retire?"
    with running_app(site / "index", tmp_path, env={"QA_AUTH_FILE": str(users)}) as guarded:
        for path in ("/config", "/gradio_api/info", "/gradio_api/file=/etc/passwd"):
            assert get(guarded, path)[0] == 401, path
        call = json.dumps({"data": [question, 3]}).encode()
        status, body = post(guarded, "/gradio_api/call/ask", call, "application/json")
        assert status == 401 and b"Not authenticated" in body
        assert _upload(guarded) == 401  # nobody fills the disk without the password
        with pytest.raises(Exception, match="credentials were not provided"):
            Client(guarded.url, verbose=False)
        with pytest.raises(Exception, match="Could not login"):
            Client(guarded.url, verbose=False, auth=("alice", "wrong"))
        client = Client(guarded.url, verbose=False, auth=("bob", "battery:staple"))
        result = client.predict(question, 3, api_name="/ask")
    assert result == ask(question, k=3, index_dir=site / "index", settings=HASH).to_dict()


# ---------------------------------------------------------------------------------------------
# Odd questions through /ask; question text in logs


QUESTIONS = [
    "",
    "   \n\t ",
    "\x00\x07\x1b",
    "x" * 1_000_000,
    "why did Cavendish\x00 un-retire?\x1b[31m\r\n",
    "لماذا عاد كافنديش إلى السباق؟",
    "Cavendish 日本語 מרוץ un-retire Tour?",
    "\u202eeritet-nu hsidnevaC",
    "<script>alert(1)</script> Cavendish",
]


@pytest.mark.integration
def test_odd_questions_through_the_api(app: App, site: Path) -> None:
    """Each is answered as the library answers it, or refused with the library's message."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from qa.errors import QuestionError

    client = Client(app.url, verbose=False)
    for question in QUESTIONS:
        try:
            expected: Any = ask(question, k=3, index_dir=site / "index", settings=HASH).to_dict()
        except QuestionError as exc:
            expected = str(exc)
        if isinstance(expected, str):
            with pytest.raises(AppError) as info:
                client.predict(question, 3, api_name="/ask")
            assert str(info.value) == expected, repr(question[:20])
        else:
            assert client.predict(question, 3, api_name="/ask") == expected, repr(question[:20])
    log = app.output()
    assert "\x1b" not in log and "\x00" not in log
    assert "alert(1)" not in log and "un-retire" not in log  # questions are not logged at all


def test_question_never_reaches_a_log_line_unescaped(
    site: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A question that makes answering fail is logged with its line breaks and escape
    sequences escaped: one log line, no terminal control."""
    from qa.web import ui

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(ui, "ask_stream", broken)
    question = "first line\nFAKE LOG LINE: admin logged in\r\x1b[2J\x1b[31mred\x07\u202e?"
    with caplog.at_level(logging.DEBUG):
        page, _ = reply_html(question, None, 3, str(site / "index"), HASH)
    assert "Something went wrong" in page  # an error reads as a sentence
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("qa")]
    assert messages, "the failure is logged"
    for message in messages:
        assert "\n" not in message and "\r" not in message
        assert "\x1b" not in message and "\x07" not in message and "\u202e" not in message
    assert any("FAKE LOG LINE" in m and "\\n" in m and "\\x1b" in m for m in messages)
