"""Prompt files: YAML or plain text, validated into a `PromptSpec`.

Every failure raises `PromptFileError` with one line naming the file, the field and the fix.
Reading any file is bounded in time and memory: the size is checked before a byte is read,
YAML is parsed within `limits`' parse bounds, and error messages quote at most 60
characters of a value. The render limits (`limits.RenderLimits`) need the config and are
checked by `plan.preflight_prompt_file`.
"""

import hashlib
import os
import re
import stat
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from longvid_assets.errors import PromptFileError
from longvid_assets.limits import (
    HARD_MAX_TOTAL_S,
    YamlLimitError,
    YamlValueError,
    clip,
    load_yaml,
    shorten,
    shown,
)

MAX_PROMPT_FILE_BYTES = 1_000_000
PROMPT_SUFFIXES = (".yaml", ".yml", ".txt")
MIN_SIDE, MAX_SIDE = 64, 4096
MIN_SEGMENT_S, MAX_SEGMENT_S = 0.5, 120.0

# Text may hold line breaks and tabs, no other control character (NUL, ESC, C1 ...).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

FIXES = {
    "resolution": "use two even integers [width, height], each 64–4096, e.g. [640, 360]",
    "fps": "use a whole number of frames per second from 1 to 60, e.g. 24",
    "duration": (
        f"use seconds from {MIN_SEGMENT_S} up to render.limits.max_total_s (default 14400)"
    ),
    "prompt": "write the story as a non-empty 'prompt' string",
    "segments": "give a list of mappings with at least a 'prompt' each",
    "seed": "use a whole number >= 0",
    "yaml": "fix the YAML syntax there",
}


def check_resolution(value):
    """[width, height]: two even sides of 64–4096 px (H.264 with yuv420p needs even sizes)."""
    if len(value) != 2:
        raise ValueError(f"needs two numbers [width, height], got {len(value)}")
    for side in value:
        if side < MIN_SIDE or side > MAX_SIDE:
            raise ValueError(f"{side} px is outside {MIN_SIDE}–{MAX_SIDE}")
        if side % 2:
            raise ValueError(f"{side} px is odd (H.264 needs even sizes)")
    return value


class SegmentSpec(BaseModel):
    """One explicit segment in a prompt file; overrides planning for the whole render."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1)
    narration: str | None = None
    duration: Annotated[float, Field(ge=MIN_SEGMENT_S, le=MAX_SEGMENT_S)] | None = None
    first_keyframe: str | None = None
    last_keyframe: str | None = None

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty")
        return value.strip()


class PromptSpec(BaseModel):
    """A validated prompt file. Unset fields fall back to the config's render defaults."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    prompt: str = ""  # required unless explicit `segments` are given
    duration: Annotated[float, Field(ge=MIN_SEGMENT_S, le=HARD_MAX_TOTAL_S)] | None = None
    resolution: tuple[int, int] | None = None
    fps: Annotated[int, Field(ge=1, le=60)] | None = None
    style: str | None = None
    voice: str | None = None
    music: str | None = None
    seed: Annotated[int, Field(ge=0)] | None = None
    segments: list[SegmentSpec] | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty")
        return value.strip()

    @model_validator(mode="before")
    @classmethod
    def _prompt_or_segments(cls, data):
        if isinstance(data, dict) and "prompt" not in data:
            if not data.get("segments"):
                raise PydanticCustomError("missing", "is required", {})
            data = {
                **data,
                "prompt": " ".join(
                    str(s.get("prompt", "")) for s in data["segments"] if isinstance(s, dict)
                )
                or "-",
            }
        return data

    @field_validator("resolution")
    @classmethod
    def _even_sizes(cls, value):
        return value if value is None else check_resolution(value)

    @field_validator("segments")
    @classmethod
    def _segments_not_empty(cls, value):
        if value is not None and not value:
            raise ValueError("is an empty list")
        return value


def render_name(path: str | Path) -> str:
    """A safe partition key from a file name: ascii letters, digits, '_' and '-', ≤ 48 chars.

    Case-folding is deliberate: names are lower-cased and the .yaml/.yml/.txt suffix is
    dropped, so `Case.yaml`, `case.yaml` and `CASE.yml` all name the render `case` (renders
    must survive case-insensitive file systems). Such files would replace each other's
    outputs: `check_render_names` finds them so the caller can refuse them. A name that
    needed changing beyond that gets a digest of the original stem, so "a b" and "a_b" stay
    distinct.
    """
    stem = Path(path).name
    for suffix in PROMPT_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^a-z0-9_-]+", "_", ascii_stem.lower()).strip("_-")[:48]
    if safe != ascii_stem.lower() or not safe:
        # Keep distinct unsafe names distinct: "a b" and "a_b" must not collide.
        digest = hashlib.sha1(stem.encode(errors="surrogatepass")).hexdigest()[:6]
        safe = f"{safe}_{digest}" if safe else f"render_{digest}"
    return safe


def render_name_groups(paths: Iterable[str | Path]) -> dict[str, list[Path]]:
    """Render name -> the files that map to it, for names shared by two or more files."""
    groups: dict[str, list[Path]] = {}
    for path in paths:
        groups.setdefault(render_name(path), []).append(Path(path))
    return {name: sorted(group) for name, group in sorted(groups.items()) if len(group) > 1}


def check_render_names(paths: Iterable[str | Path]) -> list[str]:
    """One error line per render name that two or more of `paths` share (their outputs
    would silently replace each other); empty when every file has its own render."""
    errors = []
    for name, group in render_name_groups(paths).items():
        files = ", ".join(shown(path) for path in group)
        errors.append(
            f"{files}: all render as '{name}' (render names ignore case and the "
            ".yaml/.yml/.txt suffix) — rename all but one of them"
        )
    return errors


def is_safe_prompt_path(path: str | Path, folder: str | Path) -> bool:
    """True when `path`, every symlink followed, is a regular file inside `folder`: a
    watched folder never renders a link pointing elsewhere (`/etc/...`, another project)."""
    try:
        real = Path(path).resolve(strict=True)
        root = Path(folder).resolve(strict=True)
        return real.is_relative_to(root) and real.is_file()
    except (OSError, RuntimeError):  # missing, unreadable, or a symlink loop
        return False


def read_prompt_bytes(path: str | Path) -> bytes:
    """The file's bytes, refused before reading when over 1 MB or not a regular file.

    Size and kind come from `fstat` of the opened descriptor (opened non-blocking, so a FIFO
    cannot hang us), and at most 1 MB + 1 byte is read, so a 2 GiB file or one that grows
    while read costs nothing. Callers hash these bytes instead of reading the file again.
    """
    path, file = Path(path), shown(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise PromptFileError(file, "no such file", "check the path") from None
    except OSError as exc:
        raise PromptFileError(
            file, f"cannot open it ({exc.strerror})", "check the path and its permissions"
        ) from None
    try:  # fstat before fdopen: fdopen of a directory raises IsADirectoryError
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PromptFileError(file, "not a regular file", "point at a .yaml, .yml or .txt file")
        if info.st_size > MAX_PROMPT_FILE_BYTES:
            raise _too_big(file, info.st_size)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_PROMPT_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_PROMPT_FILE_BYTES:  # it grew after the fstat
        raise _too_big(file, len(data))
    return data


def prompt_file_digest(path: str | Path) -> str:
    """Content hash of a prompt file (sha256, 32 hex chars), size-checked before reading."""
    return hashlib.sha256(read_prompt_bytes(path)).hexdigest()[:32]


def _too_big(file: str, size: int) -> PromptFileError:
    return PromptFileError(
        file, f"file is {size} bytes, over the 1 MB limit", "split it into several prompt files"
    )


def load_prompt_file(path: str | Path) -> PromptSpec:
    """Read and validate a prompt file; raise `PromptFileError` with a one-line message."""
    path, file = Path(path), shown(path)  # `file`: the name as messages show it
    # 1. The file itself: known kind, exists, size (before reading), encoding.
    if path.suffix.lower() not in PROMPT_SUFFIXES:
        raise PromptFileError(
            file, f"unknown file type {clip(path.suffix)}", "name it .yaml, .yml or .txt"
        )
    text = _decode(file, read_prompt_bytes(path))
    # 2. Parse: plain text is the prompt alone; YAML must be a mapping.
    try:
        data = {"prompt": text} if path.suffix.lower() == ".txt" else _parse_yaml(file, text)
        # 3. Validate the fields, then the characters in every text field.
        spec = PromptSpec.model_validate(data)
    except ValidationError as exc:
        raise _field_error(file, exc) from None
    except RecursionError:  # the parse bounds should make this unreachable; never a traceback
        raise PromptFileError(
            file, "too deeply nested to read", "write plain 'key: value' fields"
        ) from None
    _check_characters(file, spec)
    return spec


def _decode(file: str, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise PromptFileError(file, "is UTF-16, not UTF-8", "save the file as UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PromptFileError(
            file, f"not UTF-8 (bad byte at offset {exc.start})", "save the file as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")  # a UTF-8 byte order mark is not part of the text


def _parse_yaml(file: str, text: str) -> dict:
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(file, text, exc) from None
    except (
        ValueError,
        OverflowError,
    ) as exc:  # a value without a position (YamlValueError has one)
        raise PromptFileError(
            file, f"a YAML value cannot be read: {shorten(exc, 120)}", "fix that value"
        ) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise PromptFileError(
            file,
            f"top level is {kind}, not a mapping",
            "write 'prompt: ...' and the other fields as 'key: value' lines",
        )
    return data


def _yaml_error(file: str, text: str, exc: yaml.YAMLError) -> PromptFileError:
    """One line for a YAML error: where (line, column and the top-level field there), what
    and the fix; never the offending value in full."""
    mark = getattr(exc, "problem_mark", None)
    position = getattr(exc, "position", None)  # a ReaderError: a character YAML forbids
    if mark is not None:
        line, where = mark.line, f" at line {mark.line + 1}, column {mark.column + 1}"
    elif isinstance(position, int):
        line = text.count("\n", 0, position)
        where = f" at line {line + 1}"
    else:
        line, where = None, ""
    field = _top_level_key(text, line) if line is not None else None
    problem = shorten(getattr(exc, "problem", None) or getattr(exc, "reason", None) or exc, 120)
    if isinstance(exc, YamlLimitError):
        return PromptFileError(
            file,
            f"YAML too large to read{where}: {problem}",
            "write the values out plainly (few aliases, nesting under 50 levels)",
            field,
        )
    if isinstance(exc, YamlValueError):
        return PromptFileError(
            file, f"a YAML value cannot be read{where}: {problem}", "fix that value", field
        )
    if isinstance(exc, yaml.constructor.ConstructorError):
        return PromptFileError(
            file,
            f"YAML value not allowed{where}: {problem}",
            "remove the tag or value: only plain strings, numbers, lists and mappings",
            field,
        )
    if isinstance(exc, yaml.reader.ReaderError):
        return PromptFileError(
            file,
            f"has a character YAML does not allow{where}: {problem}",
            "remove it: text may hold line breaks and tabs but no other control characters",
            field,
        )
    return PromptFileError(file, f"YAML syntax error{where}: {problem}", FIXES["yaml"], field)


def _top_level_key(text: str, line: int) -> str | None:
    """The top-level key whose value spans 0-based `line` (the last `key:` at column 0
    at or above it), to name the field a YAML error is in."""
    lines = text.split("\n", line + 1)[: line + 1]
    for candidate in reversed(lines):
        match = re.match(r"([A-Za-z_][\w-]{0,39})\s*:", candidate)
        if match:
            return match.group(1)
    return None


def text_fields(spec: PromptSpec) -> list[tuple[str, str]]:
    """(field, text) for every text a prompt file sets."""
    fields = [
        (name, getattr(spec, name))
        for name in ("title", "prompt", "style", "voice", "music")
        if getattr(spec, name) is not None
    ]
    for index, seg in enumerate(spec.segments or []):
        for name in ("prompt", "narration", "first_keyframe", "last_keyframe"):
            if getattr(seg, name) is not None:
                fields.append((f"segments.{index}.{name}", getattr(seg, name)))
    return fields


def _check_characters(file: str, spec: PromptSpec) -> None:
    """NUL, other control characters and lone surrogates break ffmpeg, subtitles and
    codecs far downstream: refuse them here, naming the field."""
    for field, text in text_fields(spec):
        control = _CONTROL.search(text)
        if control is not None:
            raise PromptFileError(
                file,
                f"has control character U+{ord(control.group()):04X} at character "
                f"{control.start() + 1}",
                "remove it: text may hold line breaks and tabs but no other control characters",
                field,
            )
        surrogate = _SURROGATE.search(text)
        if surrogate is not None:
            raise PromptFileError(
                file,
                f"has a lone surrogate U+{ord(surrogate.group()):04X} at character "
                f"{surrogate.start() + 1} (half of a UTF-16 pair, not a character)",
                "write the character itself instead of a \\u escape",
                field,
            )


def _field_error(file: str, exc: ValidationError) -> PromptFileError:
    error = exc.errors(include_url=False)[0]
    loc = [shorten(part, 40) for part in error["loc"]] or (
        ["prompt"] if error["type"] == "missing" else []
    )
    field = ".".join(loc) if loc else None
    top = loc[0] if loc else ""
    if error["type"] == "extra_forbidden":
        allowed = (
            ", ".join(PromptSpec.model_fields)
            if len(loc) == 1
            else ", ".join(SegmentSpec.model_fields)
        )
        return PromptFileError(
            file, "unknown field", f"remove it; allowed fields: {allowed}", field
        )
    if error["type"] == "missing":
        return PromptFileError(file, "is required", FIXES.get(top, "add it"), field)
    fix = FIXES.get(loc[-1] if loc else "", FIXES.get(top, "correct the value"))
    message = shorten(error["msg"].removeprefix("Value error, "), 200)
    return PromptFileError(file, f"{message} (got {clip(error.get('input'))})", fix, field)
