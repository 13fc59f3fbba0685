"""The `podcast` command: parses arguments and calls the library, nothing else.

Every command takes ``--config PATH`` (default ``./podcast.yaml``, env ``PODCAST_CONFIG``).
A PodcastError becomes a clear message on stderr and exit status 1.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from podcast.errors import PodcastError
from podcast.text import redacted, terminal_text

if TYPE_CHECKING:  # what click.progressbar returns; click exports it from here only
    from click._termui_impl import ProgressBar

    from podcast.audio.results import MasterFigures


class PodcastGroup(click.Group):
    """The ``podcast`` command group: the one place a PodcastError becomes a message.

    It prints ``Error: … fix: …`` and exits 1, never a traceback (with ``--debug``, the
    traceback first).
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PodcastError as exc:
            if (ctx.obj or {}).get("debug"):
                _err(redacted(traceback.format_exc()).rstrip("\n"))
            _err(redacted(f"Error: {exc}"))  # no password or token of a URL it quotes
            ctx.exit(1)
        except Exception:
            signum = (ctx.obj or {}).get("stopped_by")
            if signum is None:
                raise
            # A library turned the signal into an error of its own (DuckDB: "Query
            # interrupted"); every `finally` has run: stop as the signal asked.
            click.echo(f"stopped by {signal.Signals(signum).name}", err=True)
            ctx.exit(128 + signum)


def _show(ctx: click.Context):
    from podcast.config import load_show

    return load_show(ctx.obj["config"])


def _parse_time(value: str | None, option: str) -> datetime:
    """The ISO-8601 ``value`` of ``option``; the current UTC time when not given."""
    if value is None:
        return datetime.now(UTC)
    from podcast.config import parse_datetime

    return parse_datetime(value, file=None, field=option)


def _echo(message: str) -> None:
    """A line on stdout.  Everything printed passes here or through :func:`_err`: it holds
    user text (titles, guest names, log lines, a remote feed), from which control
    characters and terminal escape sequences are removed."""
    click.echo(terminal_text(str(message)))


def _err(message: str) -> None:
    """A note on stderr, so that stdout stays the report itself (JSON, CSV)."""
    click.echo(terminal_text(str(message)), err=True)


class _ProgressBars:
    """The library's progress callback (:data:`podcast.progress.Progress`) drawn as click
    progress bars on stderr, one per step; a context manager that ends the last bar."""

    def __init__(self, **options) -> None:
        self.options = options  # click.progressbar's look (show_percent=...)
        self.bar: ProgressBar[int] | None = None
        self.label = ""

    def __call__(self, label: str, done: int, total: int) -> None:
        if self.bar is None or done == 0 or label != self.label:
            self.close()  # a new step: the last one's bar ends on its line
            self.bar = click.progressbar(length=total, label=label, file=sys.stderr,
                                         **self.options)
            self.bar.__enter__()
            self.label = label
        self.bar.update(done - self.bar.pos)
        if done >= total:
            self.close()  # the step is over: what is printed next starts a line

    def close(self) -> None:
        """End the bar drawn last, if any."""
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None

    def __enter__(self) -> _ProgressBars:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def _handle_signals(ctx: click.Context) -> None:
    """SIGTERM unwinds like Ctrl-C does (every `finally` ends its ffmpeg children and removes
    its temp files); both are remembered, so an error a library made of them still ends the
    run as a stop, not as a traceback."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread

    def stop(signum: int, frame) -> None:
        ctx.obj["stopped_by"] = signum
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    ctx.call_on_close(lambda: [signal.signal(s, h) for s, h in previous.items()])


class _RedactingFormatter(logging.Formatter):
    """Log lines without the user info or query of the URLs they quote."""

    def format(self, record: logging.LogRecord) -> str:
        return redacted(super().format(record))


def _log_debug() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("debug: %(name)s: %(message)s"))
    logger = logging.getLogger("podcast")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


@click.group(cls=PodcastGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", type=click.Path(dir_okay=False), envvar="PODCAST_CONFIG",
              default="podcast.yaml", show_default=True, help="The show's config file.")
@click.option("--debug", is_flag=True, envvar="PODCAST_DEBUG",
              help="Log every ffmpeg command line; show tracebacks with errors.")
@click.version_option(package_name="podcast")
@click.pass_context
def main(ctx: click.Context, config: str, debug: bool) -> None:
    """Produce, publish and measure an interview podcast."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    ctx.obj["debug"] = debug
    if debug:
        _log_debug()
    _handle_signals(ctx)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False), default=".")
@click.option("--title", default="My Interview Show", show_default=True)
def init(directory: str, title: str) -> None:
    """Scaffold a show in DIRECTORY: podcast.yaml, artwork and an episodes/ folder."""
    from podcast.scaffold import init_show

    for path in init_show(Path(directory), title=title):
        _echo(f"created {path}")


@main.command()
@click.argument("title")
@click.option("--guest", "guests", multiple=True, help="Guest name (repeatable).")
@click.option("--published", help="ISO-8601 publication time with an offset; a future "
                                   "one schedules it (default: now, live at the next publish).")
@click.pass_context
def new(ctx: click.Context, title: str, guests: tuple[str, ...], published: str | None) -> None:
    """Scaffold an episode folder for TITLE."""
    from podcast.scaffold import new_episode

    when = _parse_time(published, "--published") if published else None
    path = new_episode(_show(ctx), title, list(guests), published=when)
    here = Path.cwd()
    path = path.relative_to(here) if path.is_relative_to(here) else path  # as the user typed
    _echo(f"created {path}")
    _echo(f"next: put the recording in {path.parent / 'interview.wav'} (any format ffmpeg "
          "reads: change `audio:` in episode.md to its name), write the show notes, then "
          "run `podcast publish`")
    if when is not None and when > datetime.now(UTC):
        _echo(f"scheduled: it goes live at the first publish after {when.isoformat()}")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def loudness(file: str, as_json: bool) -> None:
    """Measure integrated loudness (LUFS), true peak (dBTP) and loudness range (LU)."""
    from podcast.loudness import measure

    result = measure(Path(file))
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    else:
        click.echo(f"integrated  {result.lufs:7.1f} LUFS\n"
                   f"true peak   {result.true_peak:7.1f} dBTP\n"
                   f"range       {result.lra:7.1f} LU\n"
                   f"duration    {result.duration:7.1f} s")


@main.command()
@click.argument("episode")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Output MP3 (default: SLUG.mp3 in the current folder).")
@click.option("--force", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as JSON.")
@click.option("--align", is_flag=True,
              help="Multitrack: apply the track offsets estimated from the bleed between "
                   "the tracks (they are reported either way).")
@click.pass_context
def master(ctx: click.Context, episode: str, output: str | None, force: bool,
           as_json: bool, align: bool) -> None:
    """Produce the finished, tagged MP3 of EPISODE (slug or folder)."""
    from podcast.audio import master as run_master
    from podcast.config import find_episode
    from podcast.publish import episode_input_hash, keep_master

    show = _show(ctx)
    ep = find_episode(show, episode)
    out = Path(output) if output else Path(f"{ep.slug}.mp3")
    input_hash = episode_input_hash(show, ep)  # before: the inputs may change meanwhile
    with _ProgressBars() as bars:
        result = run_master(show, ep, out, overwrite=force, align=align,
                            progress=bars if not as_json and sys.stderr.isatty() else None)
    if not align:  # publish masters without --align, so only then is it the same master
        keep_master(show, ep, input_hash, out, result)
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    else:
        o = result.output
        _echo(f"wrote {o.path}: {_loudness_words(o, show.audio.loudness)}, "
              f"{o.true_peak:.1f} dBTP, LRA {o.lra:.1f} LU, {o.duration:.1f} s, "
              f"{o.bytes} bytes")
        if o.channels == 1:
            _echo(f"  mono: players send it to both speakers, so it plays 3 LU louder than "
                  f"a plain meter (`podcast loudness`) reads it: {o.lufs:.1f} LUFS")
        if not align:
            _echo("  `podcast publish` uploads this master as it is while the inputs stay "
                  "the same")
        for track in result.tracks:
            found = track["estimated_offset"]
            _echo(f"  {track['file']} ({track['role']}): offset {track['offset']:g} s"
                  + ("" if found is None else f", estimated {found:.3f} s")
                  + f" [{track['alignment']}], speech {track['speech_share']:.0%}")
    for warning in result.warnings:  # (in the --json report as "warnings")
        _err(f"warning: {warning}")


def _loudness_words(figures: MasterFigures, target: float) -> str:
    """The master's loudness as the user set it in ``audio.loudness``: a mono file as it
    plays on two speakers (the meter's reading + 3 LU), the way Apple's -16 is meant."""
    played = figures.lufs + (3.0 if figures.channels == 1 else 0.0)
    return f"{played:.1f} LUFS (target {target:g})"


@main.command()
@click.argument("slug")
@click.option("--model", help="Speech recognition model (a CTranslate2 Whisper folder or a "
                              "name faster-whisper knows); default: transcription.model.")
@click.option("--chapters", is_flag=True,
              help="Also write draft chapters (host questions) to chapters.draft.yaml.")
@click.pass_context
def transcribe(ctx: click.Context, slug: str, model: str | None, chapters: bool) -> None:
    """Transcribe episode SLUG offline: WebVTT, SRT and JSON on the published timeline."""
    from podcast.config import find_episode
    from podcast.transcripts import transcribe as run_transcribe

    show = _show(ctx)
    episode = find_episode(show, slug)
    shown = {"step": -1}

    def progress(_label: str, done: int, total: int) -> None:  # tenths of a second
        step = 10 * done // total if total else 10
        if step > shown["step"]:  # one line per tenth: readable in a log as on a terminal
            shown["step"] = step
            _err(f"transcribing {episode.slug}: {done / 10:.0f} of {total / 10:.0f} s")

    result = run_transcribe(show, episode, model=model, chapters=chapters, progress=progress)
    for suffix, path in result.files.items():
        _echo(f"{'cached' if result.cached else 'wrote'} {path} ({suffix[1:]}, "
              f"{len(result.cues)} cues)")
    if result.chapters:
        _echo(f"wrote {result.chapters}: draft chapters to check, then copy into episode.md")


@main.command()
@click.argument("slugs", nargs=-1)
@click.option("--all", "all_", is_flag=True,
              help="Publish every episode (the default when no SLUG is given).")
@click.option("--dry-run", is_flag=True, help="Print the plan, change nothing.")
@click.option("--storage", "storage_url", help="Override the storage URL from the config.")
@click.option("--now", help="Fix the clock (ISO-8601) for scheduling.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Episodes mastered side by side (default: one per processor).")
@click.pass_context
def publish(ctx: click.Context, slugs: tuple[str, ...], all_: bool, dry_run: bool,
            storage_url: str | None, now: str | None, jobs: int | None) -> None:
    """Master what changed, upload media, then the feed and pages last."""
    from podcast.publish import publish as run_publish

    if slugs and all_:
        raise click.UsageError("give episode slugs or --all, not both")
    with _ProgressBars(show_eta=False, show_percent=True) as bars:
        run_publish(_show(ctx), [] if all_ else list(slugs), dry_run=dry_run,
                    storage_url=storage_url, now=_parse_time(now, "--now"), echo=_echo,
                    progress=bars if sys.stderr.isatty() else None, jobs=jobs)


@main.command()
@click.option("--output", type=click.Path(dir_okay=False), help="Also write the feed here.")
@click.option("--upload", is_flag=True, help="Upload the feed and pages to storage.")
@click.option("--storage", "storage_url", help="Override the storage URL from the config.")
@click.option("--now", help="Fix the clock (ISO-8601) for scheduling and reproducibility.")
@click.pass_context
def feed(ctx: click.Context, output: str | None, upload: bool, storage_url: str | None,
         now: str | None) -> None:
    """Rebuild the feed (and pages) from the episodes and the published media."""
    from podcast.publish import rebuild

    rebuild(_show(ctx), now=_parse_time(now, "--now"), output=Path(output) if output else None,
            upload=upload, storage_url=storage_url, echo=_echo)


@main.command()
@click.argument("source", required=False)
@click.option("--previous", type=click.Path(exists=True, dir_okay=False),
              help="An earlier copy of the feed, to check GUID stability against.")
@click.pass_context
def validate(ctx: click.Context, source: str | None, previous: str | None) -> None:
    """Lint a feed (file or URL; default: the built feed) against Apple, PSP-1 and P2.0."""
    from podcast.validate import config_findings, default_source
    from podcast.validate import validate as run_validate

    findings = []
    if source is None:  # the show's own feed: its podcast.yaml too, shown before the feed
        findings = config_findings(_show(ctx))  # is read (it may not be built yet)
        for finding in findings:
            _echo(str(finding))
        source = default_source(ctx.obj["config"])
    feed_findings = run_validate(source, previous=Path(previous) if previous else None)
    for finding in feed_findings:
        _echo(str(finding))
    findings += feed_findings
    errors = sum(finding.level == "error" for finding in findings)
    click.echo(f"{errors} error(s), {len(findings) - errors} warning(s)")
    if errors:
        sys.exit(1)


@main.command()
@click.option("--port", default=8000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--root", type=click.Path(file_okay=False), help="Folder to serve "
              "(default: the file:// storage folder of the config).")
@click.option("--log", "log_path", type=click.Path(dir_okay=False),
              help="Combined access log (default: .podcast/access.log).")
@click.pass_context
def serve(ctx: click.Context, port: int, host: str, root: str | None,
          log_path: str | None) -> None:
    """Serve the local storage over HTTP (HEAD, Range) with a combined access log."""
    from podcast.serve import serve as run_serve
    from podcast.serve import serve_paths

    folder, log = serve_paths(ctx.obj["config"], root, log_path)
    _echo(f"serving {folder} on http://{host}:{port}/ (log: {log})")
    run_serve(folder, host=host, port=port, log_path=log)


@main.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check ffmpeg, the config and storage access, and say what to fix."""
    from podcast.doctor import run_checks

    failed = 0
    for check in run_checks(ctx.obj["config"]):
        _echo(f"[{check.status}] {check.name}: {check.detail}")
        failed += not check.ok
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("slug")
@click.option("--via", "channels", multiple=True, metavar="CODE",
              help="A channel to make a link for (newsletter, linkedin…; repeatable): "
                   "lowercase letters, digits, hyphens. Default: one link per guest.")
@click.pass_context
def share(ctx: click.Context, slug: str, channels: tuple[str, ...]) -> None:
    """Print share links to the page of episode SLUG, one per guest or channel;
    `podcast stats report --by via` measures what each brought."""
    from podcast.config import find_episode
    from podcast.share import not_live_note, share_links
    from podcast.validate import config_findings

    show = _show(ctx)
    episode = find_episode(show, slug)
    links = share_links(show, episode, list(channels))
    for finding in config_findings(show):  # the links are still printed: local tests
        _err(str(finding))
    if note := not_live_note(episode, datetime.now(UTC)):
        _err(note)
    width = max(len(link.who) for link in links)
    for link in links:
        _echo(f"{link.who:<{width}}  {link.url}")


@main.group()
@click.option("--state", envvar="PODCAST_STATE_URL", metavar="URL",
              help="Keep the stats database in this store between runs (file://… or "
                   "s3://…, private): fetched first, stored back after an ingest.")
@click.pass_context
def stats(ctx: click.Context, state: str | None) -> None:
    """Count IAB downloads from access logs and report them."""
    ctx.obj["state"] = state


@stats.command("ingest")
@click.argument("sources", nargs=-1, required=True)
@click.option("--geoip", type=click.Path(exists=True, dir_okay=False),
              help="A MaxMind .mmdb file for countries.")
@click.option("--agents", "agent_lists", multiple=True, type=click.Path(exists=True),
              help="OPAWG user-agents-v2 lists (bots.json, apps.json... or their folder).")
@click.pass_context
def stats_ingest(ctx: click.Context, sources: tuple[str, ...], geoip: str | None,
                 agent_lists: tuple[str, ...]) -> None:
    """Read access logs (files, folders or s3://BUCKET/PREFIX) into the stats database."""
    import contextlib

    from podcast.stats.commands import ingest

    with contextlib.ExitStack() as on_screen:
        bars: list = []  # the bar, once the ingest has new files to read

        def draw(done: int, total: int) -> None:
            if not bars:
                bars.append(on_screen.enter_context(click.progressbar(
                    length=total, label="ingesting logs", file=sys.stderr)))
            bars[0].update(done - bars[0].pos)
            if done >= total:
                on_screen.close()  # all read: the bar ends before the summary

        report = ingest(_show(ctx), list(sources), geoip=Path(geoip) if geoip else None,
                        agent_lists=[Path(p) for p in agent_lists], echo=_echo,
                        progress=draw if sys.stderr.isatty() else None,
                        state=ctx.obj["state"])
    _echo(report.summary())
    ctx.exit(report.exit_code)


@stats.command("import")
@click.argument("kind", type=click.Choice(["spotify", "apple", "csv"]))
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--platform", help="The platform's name (required with csv, e.g. youtube).")
@click.option("--date-column", metavar="C", help="The column holding the day.")
@click.option("--plays-column", metavar="C", help="The column holding the plays.")
@click.option("--episode-column", metavar="C",
              help="The column holding the episode's GUID or exact title.")
@click.pass_context
def stats_import(ctx: click.Context, kind: str, files: tuple[str, ...], platform: str | None,
                 date_column: str | None, plays_column: str | None,
                 episode_column: str | None) -> None:
    """Import plays reported by a platform (Spotify, Apple Podcasts, or any CSV export),
    per episode and day, apart from the IAB downloads.  Re-importing replaces figures."""
    from podcast.stats.platforms import Mapping, import_files

    result = import_files(_show(ctx), kind, list(files), platform=platform,
                          mapping=Mapping(date=date_column, plays=plays_column,
                                          episode=episode_column),
                          state=ctx.obj["state"], echo=_err)
    _echo(result.summary())


@stats.command("report")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("--by", type=click.Choice(["episode", "day", "app", "guest", "country",
                                          "source", "device", "bot", "via"]),
              help="Rows per episode, day, app, guest, country, source (log), device, "
                   "bot (the bots' requests, never counted) or via (share links).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--chart", type=click.Path(dir_okay=False), help="Write a PNG chart here.")
@click.option("--html", type=click.Path(dir_okay=False), help="Write an HTML report here.")
@click.pass_context
def stats_report(ctx: click.Context, fmt: str, by: str | None, since: datetime | None,
                 until: datetime | None, chart: str | None, html: str | None) -> None:
    """Downloads per episode (and per day, app, guest, country, device…) and what was
    not counted (bots named with --by bot)."""
    from podcast.stats.commands import report

    text = report(_show(ctx), state=ctx.obj["state"], echo=_err, fmt=fmt, by=by,
                  since=since.date() if since else None, until=until.date() if until else None,
                  chart=Path(chart) if chart else None, html=Path(html) if html else None)
    _echo(text)


@stats.command("targets")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="Fix the date.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.pass_context
def stats_targets(ctx: click.Context, today: datetime | None, fmt: str) -> None:
    """Progress toward each target: value, percent, pace needed and projected date.

    Dates are UTC calendar days, as everywhere in the stats.
    """
    from podcast.stats.commands import targets

    day = today.date() if today else datetime.now(UTC).date()
    _echo(targets(_show(ctx), today=day, fmt=fmt, state=ctx.obj["state"], echo=_err))


if __name__ == "__main__":
    main()
