"""Safe forms of user text: in messages, on the terminal, in XML and HTTP, as HTML.

One function per idea, used wherever that idea comes up:

- :func:`shown`: a user value inside a message, as ``repr`` cut to a readable length;
- :func:`terminal_text`: text for the terminal, without control characters or escape
  sequences (a guest named ``\\x1b]52;…`` must not reach the user's clipboard);
- :func:`control_problem`: what is wrong with a config value holding a control character
  (XML 1.0 and HTTP headers cannot carry them; lxml raises ValueError on them);
- :func:`safe_transcript_html`: an ``.html`` transcript without scripts, handlers or
  foreign content, by ammonia (the maintained Rust sanitiser, through ``nh3``);
- :func:`clock`: a time in seconds as people read it (chapters, messages) or as a
  WebVTT/SRT cue writes it.
"""

from __future__ import annotations

import re
import reprlib
import unicodedata

#: Characters of a value shown in a message; longer ones are cut with "…".
SHOWN_MAX_CHARS = 80

_REPR = reprlib.Repr()
_REPR.maxstring = SHOWN_MAX_CHARS
_REPR.maxother = SHOWN_MAX_CHARS
_REPR.maxlevel = 3
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4
_REPR.maxlong = 40

#: Terminal escape sequences (ECMA-48): CSI ``ESC [ … final``, OSC/DCS/APC/PM/SOS strings
#: up to BEL or ``ESC \``, and the two-character ``ESC x`` forms; C1 CSI (U+009B) too.
_ESCAPE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x9d\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?")
#: Control characters left after the sequences: C0 but tab and newline, DEL, C1.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: The same in a config value: C0 but tab (newline too where the field is multi-line),
#: DEL and C1.  U+2028/2029 break lines in JavaScript and some readers: refused as well.
#: The bidirectional controls (Unicode UAX #9): the Arabic letter mark, the LRM/RLM marks,
#: the embeddings and overrides (U+202A-U+202E) and the isolates (U+2066-U+2069).  They
#: reorder what a reader sees ("Trojan Source"): a title or a name holding one can show
#: text other than the text stored.  Refused in config values with the controls.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL_ONE_LINE = re.compile(rf"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}]")
_CONTROL_MULTI_LINE = re.compile(rf"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}]")
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")


def shown(value: object) -> str:
    """``repr(value)`` cut to about :data:`SHOWN_MAX_CHARS` characters, for messages.

    Bounded work whatever the value (a long text, a deep or wide structure): only the part
    shown is formatted.  Control characters come out escaped, as ``repr`` writes them.
    """
    text = _REPR.repr(value)
    if len(text) > SHOWN_MAX_CHARS + 8:  # a container of several cut strings
        text = text[:SHOWN_MAX_CHARS] + "…"
    return text


def terminal_text(text: str) -> str:
    """``text`` without escape sequences and control characters (tab and newline kept):
    user text (titles, guest names, log lines, remote feeds) shown on a terminal can then
    neither move the cursor, retitle the window, write the clipboard nor hide a line."""
    if text.isprintable():  # the usual case, without a regex pass
        return text
    return _CONTROL.sub("", _ESCAPE.sub("", text))


def control_problem(text: str, *, multi_line: bool = False) -> str | None:
    """Why ``text`` cannot go into the feed, the pages or an HTTP header, or None.

    Refused: C0 control characters but tab (and newline in ``multi_line`` text), DEL, C1,
    the Unicode line/paragraph separators and the bidirectional controls
    (:data:`BIDI_CONTROLS`, named as such with the character's Unicode name).
    """
    match = (_CONTROL_MULTI_LINE if multi_line else _CONTROL_ONE_LINE).search(text)
    if match is None:
        return None
    char = match.group()
    if _BIDI.fullmatch(char):
        return (f"contains the bidirectional control character U+{ord(char):04X} "
                f"({unicodedata.name(char)}) at character {match.start() + 1}: it reorders "
                f"the text around it as displayed")
    return f"contains the control character U+{ord(char):04X} at character {match.start() + 1}"


def safe_transcript_html(data: bytes) -> bytes:
    """An HTML transcript as ammonia's whitelist keeps it: text and plain markup (headings,
    paragraphs, lists, tables, links with http(s)/mailto), no scripts, styles, event
    handlers, forms or frames.  Links get ``rel="noopener noreferrer"``.

    The transcript is served from the show's own origin as ``text/html``, so a script in it
    would run with the pages' rights (stored XSS): what is published is this, not the file.
    """
    import nh3  # the publish path only

    html = data.decode("utf-8", errors="replace")
    clean = nh3.clean(html, url_schemes={"http", "https", "mailto"})
    # ammonia keeps a fragment (no doctype, head or body): made a UTF-8 page again.
    return ('<!DOCTYPE html>\n<meta charset="utf-8">\n' + clean + "\n").encode("utf-8")


#: A URL inside free text: a scheme, ``://``, then up to a blank or an angle bracket
#: (quotes too: a password may hold one), without the quotes and punctuation that end it.
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s<>]*?(?=[\"'`),.;:\]]*(?:[\s<>]|$))")
_QUERY = re.compile(r"[?#]")
#: An authority without user info: a name or IPv4 address, or an IPv6 literal, and a port.
_HOST_PORT = re.compile(r"(?:[A-Za-z0-9\-._~%]+|\[[0-9A-Fa-f:.]+(?:%[^\]]*)?\])(?::[0-9]*)?")


def safe_url(url: str) -> str:
    """``url`` fit to print or log: user info (``user:password@``), query and fragment
    removed; scheme, host, port and path kept.

    Passwords and tokens typed without percent-encoding are removed too: a ``/`` in a
    password ends the authority early (``http://user:pw/x@host``), an ``@`` makes two of
    them (``http://user:p@w@host``): what is kept starts after the last ``@``.  When an
    ``@`` in the path cannot be told apart from the end of a password with a ``/`` in it
    (``https://host/@x`` or ``https://token/x@host``), or an ``@`` after a ``?`` or ``#``
    from the end of a password holding one, the whole address after the scheme is dropped
    (``https://…``): a guess is never shown.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _QUERY.split(url, maxsplit=1)[0]
    head, *tail = _QUERY.split(rest, maxsplit=1)
    authority, _, path = head.partition("/")
    if tail and "@" in tail[0]:  # user:p?w@host, or a query holding an @
        if "@" in head or _HOST_PORT.fullmatch(authority):
            return f"{scheme}://…"
        return _after_user_info(scheme, rest)  # the ? or # was part of a password
    if "@" not in head:  # (file:///path has an empty authority)
        ok = authority == "" or _HOST_PORT.fullmatch(authority)
        return f"{scheme}://{head}" if ok else f"{scheme}://…"
    if "@" in path and ("@" in authority or _HOST_PORT.fullmatch(authority)):
        return f"{scheme}://…"
    return _after_user_info(scheme, head)


def _after_user_info(scheme: str, rest: str) -> str:
    """The URL from what follows the last ``@`` of ``rest``, without query: every
    character of a password comes before the ``@`` that ends it, so nothing after the last
    one is secret."""
    host, slash, path = _QUERY.split(rest[rest.rindex("@") + 1:], maxsplit=1)[0].partition("/")
    return f"{scheme}://{host}{slash}{path}" if _HOST_PORT.fullmatch(host) else f"{scheme}://…"


def redacted(text: str) -> str:
    """``text`` with every URL in it passed through :func:`safe_url` (messages from boto,
    http.client or urllib quote the address they failed on)."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda match: safe_url(match.group()), text)


def clock(seconds: float, *, hours: bool = False, fraction: bool = False,
          mark: str | None = None) -> str:
    """``75.4`` -> ``"1:15"``, ``3725`` -> ``"1:02:05"``: whole seconds, cut (not rounded).

    ``hours``: always with hours (``"0:01:15"``); ``fraction``: a time that is not whole
    seconds ends in milliseconds (``"1:15.400"``); ``mark`` (``"."`` WebVTT, ``","``
    SRT): a cue timestamp instead, rounded to the millisecond and zero-padded
    (``"01:15.400"``, with ``hours`` ``"00:01:15,400"``; hours shown from an hour on).
    """
    if mark is not None:
        return _cue_clock(seconds, mark, with_hours=hours)
    whole = int(seconds)
    hour, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    frac = f"{seconds - whole:.3f}"[1:] if fraction and seconds != whole else ""
    if hours or hour:
        return f"{hour}:{minutes:02d}:{secs:02d}{frac}"
    return f"{minutes}:{secs:02d}{frac}"


def _cue_clock(seconds: float, mark: str, *, with_hours: bool) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    if with_hours or hours:
        return f"{hours:02d}:{minutes:02d}:{secs:02d}{mark}{millis:03d}"
    return f"{minutes:02d}:{secs:02d}{mark}{millis:03d}"
