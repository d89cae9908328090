"""Assemble the final MP4: clips concatenated (stream copy), audio, soft subtitles, chapters."""

import tempfile
from pathlib import Path

import ffmpeg

from longvid_assets.media.ffmpeg import ffmpeg_exe, run_args


def assemble_video(
    clips: list[Path],
    audio: Path,
    subtitles_srt: str,
    metadata_text: str,
    out: Path,
) -> None:
    """One ffmpeg pass; H.264 is copied, never re-encoded, so memory and time stay flat."""
    with tempfile.TemporaryDirectory(prefix="longvid-assemble-") as work:
        work = Path(work)
        # 1. Inputs as files: the concat list, subtitles, chapter metadata.
        concat = work / "clips.txt"
        concat.write_text("".join(f"file '{_quote(c)}'\n" for c in clips), encoding="utf-8")
        srt = work / "narration.srt"
        srt.write_text(subtitles_srt, encoding="utf-8")
        meta = work / "metadata.txt"
        meta.write_text(metadata_text, encoding="utf-8")
        # 2. Mux: video copy, AAC audio, mov_text subtitles, chapters from input 3.
        video = ffmpeg.input(str(concat), format="concat", safe=0)
        sound = ffmpeg.input(str(audio), format="wav")
        subs = ffmpeg.input(str(srt))
        stream = ffmpeg.output(
            video["v"],
            sound["a"],
            subs["s"],
            str(out),
            format="mp4",
            vcodec="copy",
            acodec="aac",
            audio_bitrate="192k",
            ar=48000,
            scodec="mov_text",
            movflags="+faststart",
            map_metadata=3,
            map_chapters=3,
            **{"metadata:s:s:0": "language=eng", "metadata:s:a:0": "language=eng"},
        )
        # ffmpeg-python drops inputs that no mapped stream uses; the chapter metadata has
        # no streams, so it goes in by hand as input 3, after the three mapped inputs.
        args = stream.compile(cmd=ffmpeg_exe(), overwrite_output=True)
        first_map = args.index("-map")
        args[first_map:first_map] = ["-f", "ffmetadata", "-i", str(meta)]
        run_args(args, f"assembling {out.name}")


def _quote(path: Path) -> str:
    return str(Path(path).resolve()).replace("'", "'\\''")
