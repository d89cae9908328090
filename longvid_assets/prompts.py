"""Prompt files: YAML or plain text, validated into a `PromptSpec`.

Every failure raises `PromptFileError` with one line naming the file, the field and the fix.
"""

import hashlib
import re
import unicodedata
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from longvid_assets.errors import PromptFileError

MAX_PROMPT_FILE_BYTES = 1_000_000
PROMPT_SUFFIXES = (".yaml", ".yml", ".txt")
MIN_SIDE, MAX_SIDE = 64, 4096
MIN_SEGMENT_S, MAX_SEGMENT_S = 0.5, 120.0
MAX_TOTAL_S = 4 * 3600.0

FIXES = {
    "resolution": "use two even integers [width, height], each 64–4096, e.g. [640, 360]",
    "fps": "use a whole number of frames per second from 1 to 60, e.g. 24",
    "duration": f"use seconds between {MIN_SEGMENT_S} and {MAX_TOTAL_S:.0f}",
    "prompt": "write the story as a non-empty 'prompt' string",
    "segments": "give a list of mappings with at least a 'prompt' each",
    "seed": "use a whole number >= 0",
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
    duration: Annotated[float, Field(ge=MIN_SEGMENT_S, le=MAX_TOTAL_S)] | None = None
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
    """A safe partition key from a file stem: ascii letters, digits, '_' and '-', ≤ 48 chars."""
    stem = Path(path).name
    for suffix in PROMPT_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^a-z0-9_-]+", "_", ascii_stem.lower()).strip("_-")[:48]
    if safe != ascii_stem.lower() or not safe:
        # Keep distinct unsafe names distinct: "a b" and "a_b" must not collide.
        digest = hashlib.sha1(stem.encode()).hexdigest()[:6]
        safe = f"{safe}_{digest}" if safe else f"render_{digest}"
    return safe


def load_prompt_file(path: str | Path) -> PromptSpec:
    """Read and validate a prompt file; raise `PromptFileError` with a one-line message."""
    path = Path(path)
    # 1. The file itself: exists, known kind, size, encoding.
    if path.suffix.lower() not in PROMPT_SUFFIXES:
        raise PromptFileError(
            path, f"unknown file type '{path.suffix}'", "name it .yaml, .yml or .txt"
        )
    if not path.is_file():
        raise PromptFileError(path, "no such file", "check the path")
    size = path.stat().st_size
    if size > MAX_PROMPT_FILE_BYTES:
        raise PromptFileError(
            path, f"file is {size} bytes, over the 1 MB limit", "split it into several prompt files"
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PromptFileError(
            path, f"not UTF-8 (bad byte at offset {exc.start})", "save the file as UTF-8"
        ) from None
    # 2. Parse: plain text is the prompt alone; YAML must be a mapping.
    data = {"prompt": text} if path.suffix.lower() == ".txt" else _parse_yaml(path, text)
    # 3. Validate the fields.
    try:
        return PromptSpec.model_validate(data)
    except ValidationError as exc:
        raise _field_error(path, exc) from None


def _parse_yaml(path: Path, text: str) -> dict:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise PromptFileError(
            path, f"YAML syntax error{where}: {problem}", "fix the YAML syntax there"
        ) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise PromptFileError(
            path,
            f"top level is {kind}, not a mapping",
            "write 'prompt: ...' and the other fields as 'key: value' lines",
        )
    return data


def _field_error(path: Path, exc: ValidationError) -> PromptFileError:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]] or (["prompt"] if error["type"] == "missing" else [])
    field = ".".join(loc) if loc else None
    top = loc[0] if loc else ""
    if error["type"] == "extra_forbidden":
        allowed = (
            ", ".join(PromptSpec.model_fields)
            if len(loc) == 1
            else ", ".join(SegmentSpec.model_fields)
        )
        return PromptFileError(
            path, "unknown field", f"remove it; allowed fields: {allowed}", field
        )
    if error["type"] == "missing":
        return PromptFileError(path, "is required", FIXES.get(top, "add it"), field)
    fix = FIXES.get(loc[-1] if loc else "", FIXES.get(top, "correct the value"))
    message = error["msg"].removeprefix("Value error, ")
    return PromptFileError(path, f"{message} (got {error.get('input')!r:.60})", fix, field)
