"""The render plan: what every downstream stage reads. Pure data and pure helpers."""

import hashlib
import logging
import re

from dagster import Config
from pydantic import BaseModel, Field, field_validator, model_validator

from longvid_assets.prompts import MAX_SEGMENT_S, MIN_SEGMENT_S, PromptSpec, check_resolution

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
    return max(1, round(seconds * fps)) / fps


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
) -> RenderPlan:
    """Turn planner drafts into a validated plan: defaults applied, keyframes chained,
    durations estimated where missing, scaled to the file's total `duration`, snapped to
    whole frames."""
    fps = spec.fps or defaults.fps
    seed = spec.seed if spec.seed is not None else defaults.seed
    # 1. Durations: explicit, else estimated from narration at a normal speaking rate.
    durations = [d.duration_s or estimate_duration(d.narration, defaults) for d in drafts]
    if spec.duration is not None and not any(d.duration_s for d in drafts):
        scale = spec.duration / sum(durations)
        durations = [d * scale for d in durations]
    # 2. Whole frames, so the video's length is exactly the sum of its segments.
    snapped = [snap_to_frames(d, fps) for d in durations]
    for index, (old, new) in enumerate(zip(durations, snapped, strict=True)):
        if abs(old - new) > 1e-6 and drafts[index].duration_s:
            log.warning(
                "segment %03d duration %.3f s snapped to %.3f s (whole frames)", index, old, new
            )
    # 3. Keyframes: segment i ends where segment i+1 starts.
    segments = []
    previous_last = drafts[0].first_keyframe or drafts[0].prompt
    for index, (draft, duration) in enumerate(zip(drafts, snapped, strict=True)):
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
                seed=segment_seed(seed, draft.prompt),
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
        fps=fps,
        voice=spec.voice or defaults.voice,
        music_mood=music_mood,
        seed=seed,
        segments=segments,
    )


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
