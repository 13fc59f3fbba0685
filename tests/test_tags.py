"""ID3v2.3 tags, cover art and chapters in a real MP3, read back by mutagen and by ffprobe.

Every test tags an MP3 made by the real ffmpeg (libmp3lame, 96 kbps CBR, 20 s of noise),
which arrives carrying ffmpeg's own ID3v2.4 tag, just like a fresh master.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mutagen.id3 import ID3, CTOCFlags, PictureType
from PIL import Image

from podcast import binaries
from podcast.config import find_episode, load_show
from podcast.errors import AudioError, ConfigError
from podcast.model import Chapter, Episode, Person, Show
from podcast.tags import (
    build_tags,
    chapters_json,
    check_cover,
    notes_text,
    read_tags,
    render_tag,
    tag_size,
    write_tags,
)

DURATION = 20.0
TITLE = "Sonia Mamin : le salon devient phygital — été"
PARIS = timezone(timedelta(hours=1))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fresh_mp3(tmp_path_factory) -> Path:
    """20 s of mono noise encoded by ffmpeg, as ffmpeg leaves it (with its own ID3 tag)."""
    path = tmp_path_factory.mktemp("ffmpeg") / "fresh.mp3"
    subprocess.run(
        [binaries.ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", f"anoisesrc=duration={DURATION}:color=pink:amplitude=0.3:seed=7",
         "-ac", "1", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", "96k", str(path)],
        check=True)
    return path


@pytest.fixture
def mp3(fresh_mp3: Path, tmp_path: Path) -> Path:
    """A private copy of the fresh MP3, to be tagged in place."""
    return Path(shutil.copy(fresh_mp3, tmp_path / "master.mp3"))


@pytest.fixture
def cover(tmp_path: Path) -> Path:
    """A 3000 px square PNG with detail (so resizing and JPEG encoding really work)."""
    image = Image.linear_gradient("L").resize((3000, 3000)).convert("RGB")
    image.paste((200, 30, 60), (1000, 1000, 2000, 2000))
    path = tmp_path / "cover.png"
    image.save(path)
    return path


def make_show(folder: Path, image: Path) -> Show:
    return Show(
        config_path=folder / "podcast.yaml", title="Salons & Rencontres",
        description="Rencontres.", author="Studio Rencontres", email="studio@example.com",
        language="fr", link="https://podcast.example.com", image=image,
        categories=("Business/Marketing",), explicit=False, base_url="https://cdn.example.com",
        feed_url="https://cdn.example.com/feed.xml", guid="83592e4d-9d26-5dd7-bc60-9d742a8bfb85",
        hosts=(Person("Julien Morel", href="https://podcast.example.com/julien"),))


def make_episode(folder: Path, **changes) -> Episode:
    fields = dict(
        slug="012-sonia-mamin", folder=folder, title=TITLE,
        published=datetime(2026, 11, 24, 7, 5, tzinfo=PARIS), audio=folder / "interview.wav",
        notes="Sonia Mamin dirige **One to One Monaco**, voir [son site](https://example.com).\n"
              "\n- Reports et annulations\n- Le contact humain",
        guid="urn:podcast:012-sonia-mamin", season=2, number=12,
        guests=(Person("Sonia Mamin", role="guest", href="https://example.com/sonia"),),
        chapters=(Chapter(0, "Introduction"),
                  Chapter(4.5, "Reports et annulations", url="https://example.com/reports"),
                  Chapter(12, "Les exposants suivent-ils ?")))
    fields.update(changes)
    return Episode(**fields)


@pytest.fixture
def show(tmp_path: Path, cover: Path) -> Show:
    return make_show(tmp_path, cover)


@pytest.fixture
def episode(tmp_path: Path) -> Episode:
    return make_episode(tmp_path)


def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        [binaries.ffprobe(), "-v", "error", "-show_chapters", "-show_format", "-of", "json",
         str(path)], check=True, capture_output=True)
    return json.loads(out.stdout)


_BITRATES_KBPS = {  # Layer III bitrate index -> kbit/s, MPEG-1 and MPEG-2/2.5
    1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
    2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
}
_RATES = {3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000]}


def _frame_length(data: bytes, offset: int) -> int | None:
    """Length of the MPEG Layer III frame whose header is at ``offset``, None if none is."""
    header = data[offset:offset + 4]
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    bitrate_index, rate_index = header[2] >> 4, (header[2] >> 2) & 3
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 3
    bitrate = _BITRATES_KBPS[1 if mpeg1 else 2][bitrate_index] * 1000
    rate = _RATES[version][rate_index]
    return (144 if mpeg1 else 72) * bitrate // rate + ((header[2] >> 1) & 1)


def first_frame_sync(data: bytes) -> int:
    """Offset of the first MPEG audio frame: a valid header followed by two more in a row.

    Chaining frames is what tells real audio from 0xFF bytes inside the tag (UTF-16 BOMs,
    JPEG markers).
    """
    for offset in range(len(data)):
        position, chained = offset, 0
        while chained < 3 and (length := _frame_length(data, position)):
            position, chained = position + length, chained + 1
        if chained == 3:
            return offset
    raise AssertionError("no MPEG audio frames in the file")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- the tag


def test_tags_are_id3v23_in_utf16_and_keep_french_accents(mp3, show, episode):
    write_tags(mp3, show, episode, duration=DURATION)

    tags = ID3(mp3, translate=False)  # translate=False: see the v2.3 frames as written
    assert tags.version == (2, 3, 0)
    assert tags["TIT2"].text == [TITLE]
    assert tags["TIT2"].encoding == 1  # UTF-16
    assert str(tags["TPE1"]) == "Julien Morel/Sonia Mamin"  # hosts, then guests
    assert tags["TALB"].text == ["Salons & Rencontres"]
    assert tags["TRCK"].text == ["12"]
    assert tags["TPOS"].text == ["2"]
    assert tags["TCON"].text == ["Podcast"]
    assert tags["TYER"].text == ["2026"]
    assert tags["TDAT"].text == ["2411"]  # DDMM, in the time zone of `published`
    assert tags["TIME"].text == ["0705"]
    assert "TDRC" not in tags  # a v2.4-only frame


def test_podcast_frames_links_and_plain_text_notes(mp3, show, episode):
    write_tags(mp3, show, episode, duration=DURATION)

    tags = ID3(mp3)
    assert tags["PCST"].value == 1
    assert not tags.getall("WFED")  # see the last test
    assert tags["TGID"].text == ["urn:podcast:012-sonia-mamin"]
    assert tags.getall("WOAR")[0].url == "https://podcast.example.com"
    links = {frame.desc: frame.url for frame in tags.getall("WXXX")}
    assert links == {"Julien Morel": "https://podcast.example.com/julien",
                     "Sonia Mamin": "https://example.com/sonia"}
    notes = tags.getall("COMM")[0]
    assert notes.lang == "fre"
    assert notes.text[0] == (
        "Sonia Mamin dirige One to One Monaco, voir son site (https://example.com).\n\n"
        "- Reports et annulations\n- Le contact humain")
    assert tags["TDES"].text == notes.text


def test_front_cover_is_a_jpeg_no_larger_than_1400_px(mp3, show, episode):
    write_tags(mp3, show, episode, duration=DURATION)

    pictures = ID3(mp3).getall("APIC")
    assert len(pictures) == 1
    assert pictures[0].type == PictureType.COVER_FRONT == 3
    assert pictures[0].mime == "image/jpeg"
    image = Image.open(io.BytesIO(pictures[0].data))
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (1400, 1400))
    # The red square in the middle of the artwork is still there after resizing.
    red, green, blue = image.getpixel((700, 700))
    assert red > 180 and green < 60 and blue < 80


def test_episode_artwork_wins_over_the_show_artwork(mp3, show, tmp_path):
    art = tmp_path / "episode-art.png"
    Image.new("RGBA", (800, 600), (0, 0, 255, 255)).save(art)
    write_tags(mp3, show, make_episode(tmp_path, image=art), duration=DURATION)

    image = Image.open(io.BytesIO(ID3(mp3).getall("APIC")[0].data))
    assert image.size == (800, 600)  # small art is not upscaled
    assert image.getpixel((400, 300))[2] > 200  # blue, not the show's gradient


def test_the_file_carries_one_tag_and_the_audio_is_unchanged(mp3, fresh_mp3, show, episode):
    original = fresh_mp3.read_bytes()
    audio = original[tag_size(fresh_mp3):]
    assert b"Lavf" in original[:tag_size(fresh_mp3)]  # ffmpeg's own tag, to be replaced

    size = write_tags(mp3, show, episode, duration=DURATION)

    data = mp3.read_bytes()
    assert size == tag_size(mp3) == first_frame_sync(data) > 10
    assert data[size:] == audio  # not one audio byte added, lost or changed
    assert b"Lavf" not in data[:size]


def test_tagging_twice_gives_the_same_bytes(mp3, show, episode):
    first_size = write_tags(mp3, show, episode, duration=DURATION)
    first = mp3.read_bytes()
    second_size = write_tags(mp3, show, episode, duration=DURATION)

    assert second_size == first_size
    assert mp3.read_bytes() == first  # no tag stacked on a tag; deterministic output


# --------------------------------------------------------------------------- chapters


def test_chapters_are_chap_frames_listed_by_one_ordered_top_level_ctoc(mp3, show, episode):
    write_tags(mp3, show, episode, duration=DURATION, chapter_offset=2.0)

    tags = ID3(mp3)
    tocs = tags.getall("CTOC")
    assert len(tocs) == 1
    assert tocs[0].flags == CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED
    assert tocs[0].child_element_ids == ["chp0", "chp1", "chp2"]
    chaps = {frame.element_id: frame for frame in tags.getall("CHAP")}
    timeline = [(chaps[i].start_time, chaps[i].end_time, chaps[i].sub_frames["TIT2"].text[0])
                for i in tocs[0].child_element_ids]
    # Starts shifted by the 2 s offset; each chapter ends where the next begins, the last at
    # the end of the audio.
    assert timeline == [(2000, 6500, "Introduction"),
                        (6500, 14000, "Reports et annulations"),
                        (14000, 20000, "Les exposants suivent-ils ?")]
    assert chaps["chp1"].sub_frames.getall("WXXX")[0].url == "https://example.com/reports"
    assert not chaps["chp0"].sub_frames.getall("WXXX")
    assert read_tags(mp3)["chapters"] == [(2.0, 6.5, "Introduction"),
                                          (6.5, 14.0, "Reports et annulations"),
                                          (14.0, 20.0, "Les exposants suivent-ils ?")]


def test_ffprobe_sees_chapters_in_order_and_the_title(mp3, show, episode):
    write_tags(mp3, show, episode, duration=DURATION)

    probe = ffprobe(mp3)
    chapters = [(float(c["start_time"]), float(c["end_time"]), c["tags"]["title"])
                for c in probe["chapters"]]
    assert chapters == [(0.0, 4.5, "Introduction"),
                        (4.5, 12.0, "Reports et annulations"),
                        (12.0, 20.0, "Les exposants suivent-ils ?")]
    assert probe["format"]["tags"]["title"] == TITLE
    assert probe["format"]["tags"]["album"] == "Salons & Rencontres"
    assert abs(float(probe["format"]["duration"]) - DURATION) < 0.1


def test_many_chapters_keep_their_order_in_the_file(mp3, show, tmp_path):
    # mutagen writes frames shortest first; chapter titles of varied length would shuffle.
    titles = ["Une partie assez longue pour peser", "B", "Moyen titre", "C", "Fin"]
    chapters = tuple(Chapter(3.0 * index, title) for index, title in enumerate(titles))
    write_tags(mp3, show, make_episode(tmp_path, chapters=chapters), duration=DURATION)

    assert [c["tags"]["title"] for c in ffprobe(mp3)["chapters"]] == titles


def test_an_episode_without_chapters_has_no_chapter_frames(mp3, show, tmp_path):
    write_tags(mp3, show, make_episode(tmp_path, chapters=()), duration=DURATION)

    tags = ID3(mp3)
    assert not tags.getall("CHAP") and not tags.getall("CTOC")
    assert ffprobe(mp3)["chapters"] == []


@pytest.mark.parametrize("start, offset", [(20.0, 0.0), (25.0, 0.0), (15.0, 5.0)])
def test_a_chapter_past_the_end_is_an_error_and_the_file_is_untouched(
        mp3, show, tmp_path, start, offset):
    episode = make_episode(tmp_path, chapters=(Chapter(0, "Intro"), Chapter(start, "Trop tard")))
    before = digest(mp3)

    with pytest.raises(ConfigError) as caught:
        write_tags(mp3, show, episode, duration=DURATION, chapter_offset=offset)

    message = str(caught.value)
    assert str(tmp_path / "episode.md") in message
    assert "chapters[1].start" in message and "'Trop tard'" in message
    assert "fix:" in message
    assert digest(mp3) == before


# --------------------------------------------------------------------------- hostile input


def test_hostile_text_round_trips(mp3, show, tmp_path):
    title = "A <b>&amp; ]]> \"quotes\" 'é' 🎙️👩🏽‍💼 \x01\x07\x1b tab\there"
    chapter = "Fin ]]><script>alert(1)</script> & 😀"
    episode = make_episode(tmp_path, title=title, chapters=(Chapter(0, chapter),),
                           guests=(Person("Zoë <O'Brien> & Co"),))
    write_tags(mp3, show, episode, duration=DURATION)

    tags = read_tags(mp3)
    assert tags["title"] == title
    assert tags["artists"] == ["Julien Morel", "Zoë <O'Brien> & Co"]
    assert tags["chapters"] == [(0.0, 20.0, chapter)]
    probe = ffprobe(mp3)
    assert probe["format"]["tags"]["title"] == title
    assert probe["chapters"][0]["tags"]["title"] == chapter


# Any text a YAML file can hold, except NUL (which ID3 uses as a separator) and lone
# surrogates (which have no UTF-16 form).
yaml_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                    min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(title=yaml_text, chapter=yaml_text)
def test_any_title_survives_the_tag(tmp_path_factory, title, chapter):
    folder = tmp_path_factory.getbasetemp()
    episode = make_episode(folder, title=title, chapters=(Chapter(0, chapter),))
    tag = render_tag(build_tags(make_show(folder, folder / "unused.png"), episode,
                                duration=DURATION))

    tags = ID3(io.BytesIO(tag))
    assert tags.version == (2, 3, 0)
    assert tags["TIT2"].text == [title]
    assert tags.getall("CHAP")[0].sub_frames["TIT2"].text == [chapter]


def test_non_ascii_urls_are_percent_encoded_not_lost(mp3, show, tmp_path):
    episode = make_episode(tmp_path, chapters=(Chapter(0, "Intro", url="https://example.com/été"),))
    write_tags(mp3, show, episode, duration=DURATION)

    chap = ID3(mp3).getall("CHAP")[0]
    assert chap.sub_frames.getall("WXXX")[0].url == "https://example.com/%C3%A9t%C3%A9"


# --------------------------------------------------------------------------- bad files


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_an_unreadable_cover_is_a_clear_error_and_the_mp3_is_untouched(
        mp3, tmp_path, episode, content):
    broken = tmp_path / "cover.jpg"
    broken.write_bytes(content)
    before = digest(mp3)

    with pytest.raises(ConfigError) as caught:
        write_tags(mp3, make_show(tmp_path, broken), episode, duration=DURATION)

    message = str(caught.value)
    assert str(broken) in message
    assert "podcast.yaml" in message and "fix:" in message
    assert digest(mp3) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cover.jpg", "master.mp3"]


def test_check_cover_finds_a_broken_cover_before_any_audio_work(tmp_path, episode, cover):
    broken = tmp_path / "cover.jpg"
    broken.write_bytes(b"GIF89a but not really")

    check_cover(make_show(tmp_path, cover), episode)  # a good cover passes silently
    with pytest.raises(ConfigError, match="cover.jpg"):
        check_cover(make_show(tmp_path, broken), episode)


def test_a_truncated_jpeg_cover_is_an_error(mp3, tmp_path, episode):
    whole = io.BytesIO()
    Image.effect_noise((1600, 1600), 60).convert("RGB").save(whole, "JPEG")
    truncated = tmp_path / "cover.jpg"
    truncated.write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])

    with pytest.raises(ConfigError, match="cover.jpg"):
        write_tags(mp3, make_show(tmp_path, truncated), episode, duration=DURATION)


def test_a_missing_episode_image_names_episode_md(mp3, show, tmp_path):
    episode = make_episode(tmp_path, image=tmp_path / "gone.png")

    with pytest.raises(ConfigError) as caught:
        write_tags(mp3, show, episode, duration=DURATION)

    assert "gone.png" in str(caught.value) and "does not exist" in str(caught.value)
    assert "episode.md" in str(caught.value)


def test_a_file_that_is_not_an_mp3_is_refused(tmp_path, show, episode):
    wav = tmp_path / "master.mp3"
    wav.write_bytes(b"RIFF" + bytes(2000))

    with pytest.raises(AudioError, match="not an MP3"):
        write_tags(wav, show, episode, duration=DURATION)
    assert wav.read_bytes() == b"RIFF" + bytes(2000)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_a_clear_error(mp3, show, episode):
    mp3.parent.chmod(0o555)
    try:
        with pytest.raises(AudioError, match="writable"):
            write_tags(mp3, show, episode, duration=DURATION)
    finally:
        mp3.parent.chmod(0o755)


# --------------------------------------------------------------------------- tag_size


def test_tag_size_reads_the_header(tmp_path):
    untagged = tmp_path / "plain.mp3"
    untagged.write_bytes(b"\xff\xfb\x70\xc0" + bytes(100))
    # ID3v2.4 with the footer flag: 10 header + 257 (synchsafe 0x02 0x01) + 10 footer.
    footer = tmp_path / "footer.mp3"
    footer.write_bytes(b"ID3\x04\x00\x10\x00\x00\x02\x01" + bytes(267) + b"\xff\xfb")
    # Two tags in a row (some tools prepend instead of replacing): the audio starts after both.
    stacked = tmp_path / "stacked.mp3"
    stacked.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x05" + bytes(5)
                        + b"ID3\x03\x00\x00\x00\x00\x00\x02" + bytes(2) + b"\xff\xfb")
    bogus = tmp_path / "bogus.mp3"  # size bytes with the high bit set: not an ID3 header
    bogus.write_bytes(b"ID3\x03\x00\x00\x80\x00\x00\x00" + bytes(20))

    assert tag_size(untagged) == 0
    assert tag_size(footer) == 277
    assert tag_size(stacked) == 27
    assert tag_size(bogus) == 0


# --------------------------------------------------------------------------- chapters JSON


def test_chapters_json_has_the_podcasting20_shape(tmp_path):
    episode = make_episode(tmp_path, chapters=(
        Chapter(0, "Introduction"),
        Chapter(4.5, "Reports", url="https://example.com/r", img="https://example.com/r.jpg"),
        Chapter(61.25, "Été ]]> & <fin>")))

    raw = chapters_json(episode, offset=1.5)
    document = json.loads(raw.decode("utf-8"))

    assert document == {"version": "1.2", "chapters": [
        {"startTime": 1.5, "title": "Introduction"},
        {"startTime": 6, "title": "Reports", "img": "https://example.com/r.jpg",
         "url": "https://example.com/r"},
        {"startTime": 62.75, "title": "Été ]]> & <fin>"}]}
    assert "Été".encode() in raw  # UTF-8, not \\u escapes
    assert chapters_json(episode, offset=1.5) == raw  # stable bytes


def test_chapters_json_without_chapters_is_an_empty_list(tmp_path):
    assert json.loads(chapters_json(make_episode(tmp_path, chapters=()))) == {
        "version": "1.2", "chapters": []}


# --------------------------------------------------------------------------- notes


def test_notes_lose_markup_and_raw_html_code():
    notes = ("# Au programme\n\nUn *salon* <b>hybride</b> & des <script>alert(1)</script>"
             "exposants.\n\n1. Un\n2. Deux")
    assert notes_text(notes) == "Au programme\n\nUn salon hybride & des exposants.\n\n- Un\n- Deux"


def test_long_notes_are_cut_at_a_word_boundary():
    text = notes_text("mot " * 2000, limit=100)
    assert len(text) <= 100 and text.endswith("mot…")


# --------------------------------------------------------------------------- the demo show


def test_the_demo_episode_tags_from_its_config(demo_show, tmp_path):
    show = load_show(demo_show)
    episode = find_episode(show, "001-sonia-mamin")
    master = tmp_path / "001.mp3"  # the demo interview, encoded as a master would be
    subprocess.run([binaries.ffmpeg(), "-hide_banner", "-loglevel", "error", "-i",
                    str(episode.audio), "-ac", "1", "-c:a", "libmp3lame", "-b:a", "96k",
                    str(master)], check=True)
    duration = float(ffprobe(master)["format"]["duration"])

    write_tags(master, show, episode, duration=duration)

    tags = read_tags(master)
    assert tags["version"] == (2, 3, 0)
    assert tags["title"] == "Sonia Mamin : le salon devient phygital"
    assert tags["album"] == "Salons & Rencontres"
    assert tags["artists"] == ["Julien Morel", "Sonia Mamin"]
    assert tags["has_cover"]
    assert [(start, title) for start, _, title in tags["chapters"]] == [
        (0.0, "Introduction"), (12.0, "Reports et annulations"),
        (30.0, "Les exposants suivent-ils ?")]
    assert tags["chapters"][-1][1] == pytest.approx(duration, abs=0.001)


def test_the_podcast_frames_read_the_same_in_eyed3_and_no_feed_url_frame_is_written(
        mp3, show, episode):
    """PCST and TGID read alike in mutagen and eyeD3.  WFED is not written: as a URL frame
    (mutagen's layout) eyeD3 and music-metadata drop the URL's first character, as a text
    frame (iTunes' layout) mutagen reads an empty URL."""
    import eyed3

    write_tags(mp3, show, episode, duration=DURATION)
    read = eyed3.load(mp3)
    assert b"WFED" not in read.tag.frame_set
    assert [frame.text for frame in read.tag.frame_set[b"TGID"]] == [
        "urn:podcast:012-sonia-mamin"]
    assert b"PCST" in read.tag.frame_set
