"""feed.truncate_html stops parsing once its budget is spent, with the output it had when it
parsed the whole text: compared with a copy of that algorithm kept here."""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st
from test_feed import SHOW_FOR_NOTES

from podcast import feed
from podcast.feed import truncate_html


class _WholeTruncator(HTMLParser):
    """truncate_html's parser as it was before it stopped early (fed the whole text)."""

    VOID = {"br", "img", "hr", "input", "meta", "link", "source", "wbr"}
    ELLIPSIS = "…"

    def __init__(self, limit: int) -> None:
        super().__init__(convert_charrefs=True)
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.open: list[str] = []
        self.done = False

    def _closing(self, extra=()) -> str:
        return "".join(f"</{tag}>" for tag in reversed(self.open + list(extra)))

    def _fits(self, piece: str, extra=()) -> bool:
        size = len(piece.encode("utf-8")) + len(self._closing(extra).encode("utf-8"))
        return self.size + size + len(self.ELLIPSIS.encode("utf-8")) <= self.limit

    def _emit(self, piece: str) -> None:
        self.parts.append(piece)
        self.size += len(piece.encode("utf-8"))

    def handle_starttag(self, tag, attrs):
        if self.done:
            return
        raw = self.get_starttag_text() or f"<{tag}>"
        void = tag in self.VOID
        if not self._fits(raw, () if void else (tag,)):
            self._stop()
            return
        self._emit(raw)
        if not void:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        if self.done:
            return
        raw = self.get_starttag_text() or f"<{tag}/>"
        if not self._fits(raw):
            self._stop()
            return
        self._emit(raw)

    def handle_endtag(self, tag):
        if self.done or tag not in self.open:
            return
        while self.open:
            top = self.open.pop()
            self._emit(f"</{top}>")
            if top == tag:
                break

    def handle_data(self, data):
        if self.done:
            return
        text = escape(data, quote=False)
        if self._fits(text):
            self._emit(text)
            return
        kept = ""
        for word in re.split(r"(\s+)", data):
            if not self._fits(escape(kept + word, quote=False)):
                break
            kept += word
        self._emit(escape(kept.rstrip(), quote=False))
        self._stop()

    def _stop(self) -> None:
        if not self.done:
            self._emit(self.ELLIPSIS)
            self.done = True


def whole_truncate(html: str, limit: int) -> str:
    if len(html.encode("utf-8")) <= limit:
        return html
    cutter = _WholeTruncator(limit)
    cutter.feed(html)
    cutter.close()
    return "".join(cutter.parts) + cutter._closing()


#: Pieces of HTML, well-formed and not: tags with attributes holding ``<`` and ``>``,
#: comments, scripts, character references (cut ones too), stray brackets, multi-byte text.
PIECES = ["<p>", "</p>", "<b>", "</b>", "<em>", "</em>", "<br>", "<br/>", "<img src=x>",
          '<a href="https://e.x/?a=1&amp;b=2" title="x<y>z">', "</a>", "<ul><li>", "</li>",
          "</ul>", "<!-- c < d -->", "<!--", "-->", "<script>", "</script>", "<style>",
          "</style>", "<![CDATA[x]]>", "<!DOCTYPE html>", "<?pi?>", "</div>", "<", ">", "&",
          "&amp;", "&lt;", "&#233;", "&#x41;", "&eacute", "&nbsp;", " ", "  ", "\n", "\t",
          "word", "mot", "é", "中文", "🎙", "a-b", "x" * 30]


@settings(max_examples=600, deadline=None)
@given(html=st.lists(st.sampled_from(PIECES), max_size=80).map("".join),
       limit=st.integers(min_value=1, max_value=300))
def test_the_early_stop_cuts_as_parsing_everything_did(html: str, limit: int):
    assert truncate_html(html, limit) == whole_truncate(html, limit)


@settings(max_examples=200, deadline=None)
@given(notes=st.lists(st.sampled_from(list("ab é*_-#>`[]()&<\n") + ["\n\n", "- ", "**"]),
                      max_size=400).map("".join),
       limit=st.integers(min_value=1, max_value=400))
def test_rendered_notes_are_cut_as_before(notes: str, limit: int):
    html = str(feed.NotesRenderer(SHOW_FOR_NOTES).notes_html(notes))
    assert truncate_html(html, limit) == whole_truncate(html, limit)


def test_huge_notes_are_parsed_only_up_to_the_cut(monkeypatch):
    """20 MB of paragraphs cut to 4000 bytes: the parser is fed a few kB of them, counted
    by the text it was given (not timed), and the cut is the one a whole parse makes."""
    paragraph = "<p>Un salon, des rencontres &amp; des livres : " + "mot " * 40 + "</p>\n"
    html = paragraph * (20_000_000 // len(paragraph))
    expected = whole_truncate(html[:100_000], 4000)
    fed: list[int] = []
    feed_text = HTMLParser.feed

    def counting_feed(parser: HTMLParser, data: str) -> None:
        fed.append(len(data))
        feed_text(parser, data)

    monkeypatch.setattr(HTMLParser, "feed", counting_feed)
    cut = truncate_html(html, 4000)
    monkeypatch.undo()
    assert sum(fed) < 20_000  # of 20 MB
    assert cut == expected
    assert len(cut.encode("utf-8")) <= 4000 and cut.endswith("…</p>")


def test_one_huge_text_run_is_cut_as_before():
    text = ("plain words, no markup at all " * 700_000)[:20_000_000]
    assert truncate_html(text, 4000) == whole_truncate(text[:10_000], 4000)
