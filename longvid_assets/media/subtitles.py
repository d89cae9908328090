"""SRT subtitles from narration timing, and ffmpeg chapter metadata."""

import textwrap
from dataclasses import dataclass

LINE_CHARS = 42
CUE_CHARS = 2 * LINE_CHARS


@dataclass
class Cue:
    start_s: float
    end_s: float
    text: str


def narration_cues(start_s: float, duration_s: float, text: str) -> list[Cue]:
    """Split one narration into cues of at most two 42-character lines, timed by length."""
    chunks = textwrap.wrap(" ".join(text.split()), CUE_CHARS, break_long_words=True)
    total = sum(len(c) for c in chunks) or 1
    cues, at = [], start_s
    for chunk in chunks:
        length = duration_s * len(chunk) / total
        cues.append(Cue(at, at + length, "\n".join(textwrap.wrap(chunk, LINE_CHARS))))
        at += length
    return cues


def srt_time(seconds: float) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def to_srt(cues: list[Cue]) -> str:
    blocks = [
        f"{n}\n{srt_time(c.start_s)} --> {srt_time(c.end_s)}\n{c.text}\n"
        for n, c in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def ffmetadata(title: str, chapters: list[tuple[float, float, str]]) -> str:
    """An FFMETADATA1 file: the title and one chapter per (start_s, end_s, name)."""

    def escape(value: str) -> str:
        for char in ("\\", "=", ";", "#", "\n"):
            value = value.replace(char, "\\" + char)
        return value

    lines = [";FFMETADATA1", f"title={escape(title)}"]
    for start, end, name in chapters:
        lines += [
            "[CHAPTER]",
            "TIMEBASE=1/1000",
            f"START={round(start * 1000)}",
            f"END={round(end * 1000)}",
            f"title={escape(name)}",
        ]
    return "\n".join(lines) + "\n"
