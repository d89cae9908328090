"""The render plan: what every downstream stage reads. Pure data and pure helpers."""

import hashlib
import logging
import math
import re
from collections.abc import Callable
from pathlib import Path

from dagster import Config
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from longvid_assets.errors import ConfigError, PromptFileError
from longvid_assets.limits import RenderLimits, check_plan, check_spec, clip, shorten, shown
from longvid_assets.prompts import (
    MAX_SEGMENT_S,
    MIN_SEGMENT_S,
    PromptSpec,
    check_resolution,
    load_prompt_file,
)

log = logging.getLogger(__name__)

NARRATION_PAD_S = 0.8  # silence around each narration: 0.3 s lead-in, 0.5 s tail


class RenderDefaults(Config):
    """Render settings from the config; a prompt file may override each one."""

    resolution: list[int] = [640, 360]
    fps: int = Field(24, ge=1, le=60)
    style: str = "storyboard"
    voice: str = "en_US-joe-medium"
    music: str = "auto"
    seed: int = 0
    min_segment_s: float = Field(3.0, ge=MIN_SEGMENT_S, le=MAX_SEGMENT_S)
    max_segment_s: float = Field(12.0, ge=MIN_SEGMENT_S, le=MAX_SEGMENT_S)
    words_per_minute: float = Field(150.0, gt=30, le=400)
    limits: RenderLimits = RenderLimits()

    @field_validator("resolution")
    @classmethod
    def _even_sizes(cls, value):
        return check_resolution(value)


class SegmentDraft(BaseModel):
    """A planner's raw segment, before timing is snapped and seeds assigned."""

    prompt: str
    narration: str
    duration_s: float | None = None
    first_keyframe: str | None = None
    last_keyframe: str | None = None


class SegmentPlan(BaseModel):
    index: int
    prompt: str
    first_keyframe: str
    last_keyframe: str
    narration: str
    duration_s: float = Field(ge=MIN_SEGMENT_S, le=MAX_SEGMENT_S)
    seed: int

    @property
    def key(self) -> str:
        return segment_key(self.index)


class RenderPlan(BaseModel):
    render: str
    title: str
    source: str
    planner: str
    style: str
    resolution: tuple[int, int]
    fps: int
    voice: str
    music_mood: str
    seed: int
    segments: list[SegmentPlan] = Field(min_length=1)

    @model_validator(mode="after")
    def _boundaries_are_shared(self):
        for before, after in zip(self.segments, self.segments[1:], strict=False):
            if before.last_keyframe != after.first_keyframe:
                raise ValueError(
                    f"segment {after.index} first_keyframe must equal segment {before.index} "
                    "last_keyframe: boundary keyframes are shared"
                )
        return self

    def frame_count(self, index: int) -> int:
        return round(self.segments[index].duration_s * self.fps)

    def start_s(self, index: int) -> float:
        return sum(self.frame_count(i) for i in range(index)) / self.fps

    @property
    def total_frames(self) -> int:
        return sum(self.frame_count(i) for i in range(len(self.segments)))

    @property
    def duration_s(self) -> float:
        return self.total_frames / self.fps

    @property
    def segment_keys(self) -> list[str]:
        return [s.key for s in self.segments]

    def boundary(self, k: int) -> str:
        """Keyframe description k of len(segments)+1; segment i runs from boundary i to i+1."""
        return self.segments[0].first_keyframe if k == 0 else self.segments[k - 1].last_keyframe


def segment_key(index: int) -> str:
    return f"{index:03d}"


def count_words(text: str) -> int:
    return len(re.findall(r"[\w']+", text))


def estimate_duration(narration: str, defaults: RenderDefaults) -> float:
    """Seconds to speak `narration` at the configured rate, padded and clamped to min/max."""
    speech = count_words(narration) / defaults.words_per_minute * 60.0
    return min(max(speech + NARRATION_PAD_S, defaults.min_segment_s), defaults.max_segment_s)


def snap_to_frames(seconds: float, fps: int) -> float:
    """Whole frames, never under `MIN_SEGMENT_S` for a duration that was not (0.5 s at
    5 fps rounds to 2 frames, 0.4 s: take 3)."""
    frames = max(1, round(seconds * fps))
    if seconds >= MIN_SEGMENT_S:
        frames = max(frames, math.ceil(MIN_SEGMENT_S * fps - 1e-9))
    return frames / fps


def segment_seed(plan_seed: int, prompt: str) -> int:
    """Seed from the render seed and the segment's own text, so inserting a segment
    elsewhere does not reseed (and so re-render) the others."""
    digest = hashlib.sha256(f"{plan_seed}:{prompt}".encode()).hexdigest()
    return int(digest[:8], 16)


def build_plan(
    spec: PromptSpec,
    drafts: list[SegmentDraft],
    *,
    render: str,
    source: str,
    planner: str,
    defaults: RenderDefaults,
    music_mood: str,
    where: str | Path | None = None,
) -> RenderPlan:
    """Turn planner drafts into a validated plan: defaults applied, keyframes chained,
    durations estimated where missing, scaled to the file's total `duration`, snapped to
    whole frames, and checked against `defaults.limits` — the one place every plan (explicit
    segments, the offline planner, an LLM) passes through. Errors are one-line
    `PromptFileError`s naming `where` (default: `source`)."""
    where = shown(where or source)
    if not drafts:
        raise PromptFileError(where, f"planner {planner} made no segments", "check the prompt")
    fps = spec.fps or defaults.fps
    # 1. Durations: explicit, else estimated from narration at a normal speaking rate.
    durations = [d.duration_s or estimate_duration(d.narration, defaults) for d in drafts]
    if spec.duration is not None and not any(d.duration_s for d in drafts):
        scale = spec.duration / sum(durations)
        durations = [d * scale for d in durations]
        _check_scaled(where, spec.duration, durations)
    # 2. Whole frames, so the video's length is exactly the sum of its segments.
    snapped = [snap_to_frames(d, fps) for d in durations]
    for index, (old, new) in enumerate(zip(durations, snapped, strict=True)):
        if abs(old - new) > 1e-6 and drafts[index].duration_s:
            log.warning(
                "segment %03d duration %.3f s snapped to %.3f s (whole frames)", index, old, new
            )
    # 3. Keyframes: segment i ends where segment i+1 starts.
    try:
        plan = _assemble(spec, drafts, snapped, render, source, planner, defaults, music_mood)
    except ValidationError as exc:  # a planner's fault the checks above did not foresee
        error = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in error["loc"]) or None
        raise PromptFileError(
            where,
            f"the plan made by {planner} is invalid: {shorten(error['msg'], 120)}",
            "change the prompt file or the config's render section",
            field,
        ) from None
    # 4. The limits, the same for every planner.
    check_plan(plan, defaults.limits, where)
    return plan


def _check_scaled(where, total: float, durations: list[float]) -> None:
    """A total `duration` spread over too few (or too many) scenes gives segments no clip
    can have; say so instead of failing validation."""
    shortest, longest = min(durations), max(durations)
    count = len(durations)
    if longest > MAX_SEGMENT_S + 1e-9:
        raise PromptFileError(
            where,
            f"{total:g} s over {count} segment(s) makes segments of up to {longest:,.1f} s, "
            f"over the {MAX_SEGMENT_S:g} s a segment may last",
            f"lower 'duration' to at most {count * MAX_SEGMENT_S:g}, or write a longer prompt "
            "(each paragraph or sentence becomes a segment)",
            "duration",
        )
    if shortest < MIN_SEGMENT_S - 1e-9:
        raise PromptFileError(
            where,
            f"{total:g} s over {count} segments makes segments of {shortest:.2f} s, under "
            f"the {MIN_SEGMENT_S:g} s a segment needs",
            f"raise 'duration' (at least {math.ceil(total * MIN_SEGMENT_S / shortest)}) or "
            "shorten the prompt",
            "duration",
        )


def _assemble(spec, drafts, durations, render, source, planner, defaults, music_mood):
    segments = []
    previous_last = drafts[0].first_keyframe or drafts[0].prompt
    for index, (draft, duration) in enumerate(zip(drafts, durations, strict=True)):
        first = previous_last if index else (draft.first_keyframe or draft.prompt)
        last = draft.last_keyframe or draft.prompt
        segments.append(
            SegmentPlan(
                index=index,
                prompt=draft.prompt,
                first_keyframe=first,
                last_keyframe=last,
                narration=draft.narration,
                duration_s=duration,
                seed=segment_seed(seed_of(spec, defaults), draft.prompt),
            )
        )
        previous_last = last
    return RenderPlan(
        render=render,
        title=spec.title or render.replace("_", " ").strip().capitalize(),
        source=source,
        planner=planner,
        style=spec.style or defaults.style,
        resolution=tuple(spec.resolution or defaults.resolution),
        fps=spec.fps or defaults.fps,
        voice=spec.voice or defaults.voice,
        music_mood=music_mood,
        seed=seed_of(spec, defaults),
        segments=segments,
    )


def seed_of(spec: PromptSpec, defaults: RenderDefaults) -> int:
    return spec.seed if spec.seed is not None else defaults.seed


def drafts_from_spec(spec: PromptSpec) -> list[SegmentDraft]:
    """Explicit `segments:` in the prompt file, which override planning."""
    drafts = []
    for index, seg in enumerate(spec.segments or []):
        if (
            index
            and seg.first_keyframe
            and spec.segments[index - 1].last_keyframe
            not in (
                None,
                seg.first_keyframe,
            )
        ):
            raise ValueError(
                f"segments.{index}.first_keyframe differs from segments.{index - 1}.last_keyframe"
                " (boundary keyframes are shared); remove one of them"
            )
        drafts.append(
            SegmentDraft(
                prompt=seg.prompt,
                narration=seg.narration if seg.narration is not None else seg.prompt,
                duration_s=seg.duration,
                first_keyframe=seg.first_keyframe,
                last_keyframe=seg.last_keyframe,
            )
        )
    return drafts


def known_music_moods() -> tuple[str, ...]:
    """What `music:` may say: a mood the music backends play, a word for silence, or auto."""
    from longvid_assets.embedded.music_bed import MOODS, SILENT_MOODS

    return (*MOODS, *sorted(SILENT_MOODS), "auto")


def preflight_prompt_file(
    path: str | Path,
    defaults: RenderDefaults,
    *,
    check_voice: Callable[[str], None] | None = None,
) -> PromptSpec:
    """Everything knowable from the file and the config before any run, cheaply (no
    planning, no model): the file and its fields (`load_prompt_file`), the render limits on
    what it asks for, the music mood, the voice (`check_voice`, e.g. the speech resource's
    `check_voice`, raises `ConfigError` for a voice it cannot load) and explicit segments.
    Raises `PromptFileError` (one line: file, field, problem, fix)."""
    path, file = Path(path), shown(path)  # `file`: the name as messages show it
    # 1. The file, then the limits on what it asks for.
    spec = load_prompt_file(path)
    check_spec(spec, defaults, file)
    # 2. Music and voice, from the file or else the config's render defaults.
    _check_music(file, spec.music or defaults.music, spec.music is None)
    if check_voice is not None:
        _check_voice(file, spec.voice or defaults.voice, spec.voice is None, check_voice)
    # 3. Explicit segments: shared keyframes agree, and something is spoken.
    if spec.segments:
        try:
            drafts_from_spec(spec)
        except ValueError as exc:
            raise PromptFileError(file, shorten(exc, 200), "fix the segments") from None
        if all(seg.narration is not None and not seg.narration.strip() for seg in spec.segments):
            raise PromptFileError(
                file,
                "every segment's narration is empty: nothing would be spoken or subtitled",
                "give at least one segment a narration (an empty one is a silent segment)",
                "segments",
            )
    return spec


def validate_prompt_file(
    path: str | Path,
    defaults: RenderDefaults,
    *,
    check_voice: Callable[[str], None] | None = None,
) -> RenderPlan:
    """`preflight_prompt_file`, then the plan explicit segments or the offline planner make
    (as `segment_plan.make_plan` does) through `build_plan`, so its limits are checked too.
    With an LLM planner call `preflight_prompt_file` alone: its plan is checked in the run."""
    from longvid_assets.embedded.scenes import plan_scenes
    from longvid_assets.prompts import render_name

    path = Path(path)
    spec = preflight_prompt_file(path, defaults, check_voice=check_voice)
    if spec.segments:
        drafts, mood, made_by = drafts_from_spec(spec), "calm", "explicit segments"
    else:
        drafts, mood = plan_scenes(spec.prompt, defaults)
        made_by = "offline"
    music = spec.music or defaults.music
    return build_plan(
        spec,
        drafts,
        render=render_name(path),
        source=path.name,
        planner=made_by,
        defaults=defaults,
        music_mood=mood if music == "auto" else music,
        where=path,
    )


def _check_music(file: str, mood: str, from_config: bool) -> None:
    known = known_music_moods()
    if mood.strip().lower() not in known:
        origin = " (the config's render.music)" if from_config else ""
        raise PromptFileError(
            file,
            f"unknown music mood {clip(mood)}{origin}",
            f"use one of {', '.join(known)}",
            "music",
        )


def _check_voice(file: str, voice: str, from_config: bool, check: Callable[[str], None]):
    try:
        check(voice)
    except ConfigError as exc:
        problem, _, fix = str(exc).partition(" — ")
        origin = " (the config's render.voice)" if from_config else ""
        raise PromptFileError(
            file, shorten(problem, 300) + origin, shorten(fix or "use a known voice", 300), "voice"
        ) from None
