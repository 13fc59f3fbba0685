"""Show notes: CommonMark Markdown, read by one parser wherever notes appear.

pulldown-cmark (Rust, through ``pyromark``'s public API) renders them: linear time, and
nothing to free by hand.  :func:`safe_markdown` gives the HTML that goes into every podcast
app and onto the pages (raw HTML shown as text, only http(s)/mailto/relative links);
:func:`markdown_html` gives the plain parse that :func:`podcast.tags.notes_text` reads the
ID3 text from.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pyromark

#: Characters XML 1.0 forbids; lxml refuses them, so they are dropped from every text.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: Link schemes allowed in show notes; anything else (javascript:, data:) is dropped.
_SAFE_SCHEMES = ("http", "https", "mailto", "")
#: The one Markdown parser for show notes, wherever they appear (feed, pages, ID3 text):
#: CommonMark without extensions, by pulldown-cmark (Rust, through ``pyromark``): linear
#: time, and nothing to free by hand.
_MARKDOWN = pyromark.Markdown()
#: A ``<`` that does not open a CommonMark autolink (``<https://...>``, ``<a@b.org>``).
#: pulldown-cmark has no safe mode: it copies raw HTML through.  So each such ``<`` is
#: swapped for U+FFFF before it parses the notes, and it can never read raw HTML; the marker
#: is put back as ``&lt;`` afterwards, so the HTML shows as text, also inside code spans.
#: U+FFFF cannot be in the notes: xml_text() drops it (XML 1.0 forbids it).  A backslash just
#: before goes too: ``\<b>`` is Markdown for the text ``<b>``.
_RAW_LT = re.compile(
    r"<(?![A-Za-z][A-Za-z0-9+.-]{1,31}:[^\x00-\x20<>]*>"
    r"|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*>)")
_LT = "\uffff"
#: A link or image URL in the rendered notes.  Anchored on the tag: pulldown-cmark leaves
#: ``"`` unescaped in text (``src="x"`` can be text), but a ``<`` in text is always ``&lt;``.
_URL_ATTR = re.compile(r'(<a|<img) (?:href|src)="([^"]*)"')


def xml_text(value: str) -> str:
    """Text safe for XML 1.0 (lxml escapes ``<`` and ``&``; it refuses control chars)."""
    if value.isprintable():  # no control, surrogate or non-character: nothing to drop
        return value
    return _NOT_XML.sub("", value)


def safe_markdown(text: str) -> str:
    """CommonMark ``text`` as HTML, raw HTML shown as text, only http(s)/mailto/relative links."""
    # (Dropping the backslash afterwards keeps the regex fast: it starts with a plain "<".)
    source = _RAW_LT.sub(_LT, xml_text(text)).replace("\\" + _LT, _LT)
    html = _MARKDOWN.html(source)
    # The marker is percent-encoded inside link URLs.  Void tags come XHTML-style
    # (``<hr />``); HTML style, as in the rest of the description (``>`` in text is ``&gt;``).
    html = html.replace(_LT, "&lt;").replace("%EF%BF%BF", "%3C").replace(" />", ">")
    return _URL_ATTR.sub(_keep_safe_url, html)


def markdown_html(text: str) -> str:
    """CommonMark ``text`` as HTML by the same parser as :func:`safe_markdown`, but raw HTML
    copied through and every link kept: only for reading the text back out
    (:func:`podcast.tags.notes_text`), never for display."""
    return _MARKDOWN.html(text)


def _keep_safe_url(match: re.Match[str]) -> str:
    if match.group(2).startswith(("https://", "http://", "mailto:")):
        return match.group(0)  # the usual case, without parsing
    url = unescape(match.group(2)).strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:  # e.g. an unclosed IPv6 bracket: not a link anyone can follow
        return match.group(1)
    return match.group(0) if url and scheme in _SAFE_SCHEMES else match.group(1)
