"""Which partitions are stale: the fingerprints a plan needs vs what Dagster and the store hold.

Every fingerprint of a render follows from its plan and the resources' identities (see
`fingerprint.py`), so staleness is known before anything runs. A stage's partition is
**fresh** when Dagster's latest materialization of it recorded the expected fingerprint as
its `DataVersion` *and* the artifact is in the store; otherwise it is **stale**. Used by
`render.py` (to skip runs for fresh partitions), the sensors and the schedule.

Only reads: nothing here writes to the instance or the store.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dagster import DagsterInstance, EnvVar

from longvid_assets.artifacts import STAGE_FILES
from longvid_assets.errors import LongvidError
from longvid_assets.fingerprint import (
    audio_fp,
    caption_fp,
    clip_fp,
    final_fp,
    fingerprint,
    keyframe_fp,
    plan_fp,
)
from longvid_assets.partitions import segment_partition_key
from longvid_assets.plan import RenderPlan
from longvid_assets.prompts import load_prompt_file, render_name
from longvid_assets.resources.store import ArtifactStore
from longvid_assets.sources import find_prompt_file
from longvid_assets.versions import recorded_versions

SEGMENT_STAGES = ["keyframe_images", "segment_clips", "clip_captions"]
RENDER_STAGES = ["audio_tracks", "final_video"]


def resolved_identity(resource) -> dict:
    """`resource.identity()` with `EnvVar` fields resolved, as a run sees them.

    Sensors and schedules read identities from the un-initialized resources of the config
    (never set up: that would load models in the daemon), where an `{env: NAME}` field is
    still an `EnvVar`; a run sees its value.
    """
    identity = resource.identity()
    return {k: (v.get_value() if isinstance(v, EnvVar) else v) for k, v in identity.items()}


@dataclass(frozen=True)
class Identities:
    """The backend identities that feed a render's fingerprints."""

    planner: dict
    images: dict
    video: dict
    captioner: dict
    speech: dict
    music: dict
    mixer: dict
    defaults: dict

    @classmethod
    def of(cls, resources: Mapping[str, object]) -> "Identities":
        return cls(
            planner=resolved_identity(resources["planner"]),
            images=resolved_identity(resources["image_generator"]),
            video=resolved_identity(resources["video_generator"]),
            captioner=resolved_identity(resources["captioner"]),
            speech=resolved_identity(resources["speech"]),
            music=resolved_identity(resources["music"]),
            mixer=resolved_identity(resources["mixer"]),
            defaults=resources["settings"].render.model_dump(),
        )


@dataclass
class Expected:
    """The DataVersion each stage must record for a plan: per segment key, and per render."""

    segments: dict[str, dict[str, str]]
    render: dict[str, str]
    keyframes: dict[str, tuple[str, str]]  # segment key -> (first, last) boundary fingerprints


def expected_versions(plan: RenderPlan, ids: Identities) -> Expected:
    segments, keyframes = {}, {}
    for seg in plan.segments:
        i = seg.index
        first, last = keyframe_fp(plan, i, ids.images), keyframe_fp(plan, i + 1, ids.images)
        keyframes[seg.key] = (first, last)
        segments[seg.key] = {
            "keyframe_images": fingerprint(first, last),  # as keyframe_images records it
            "segment_clips": clip_fp(plan, i, ids.video, ids.images),
            "clip_captions": caption_fp(plan, i, ids.captioner, ids.video, ids.images),
        }
    clips = [segments[s.key]["segment_clips"] for s in plan.segments]
    audio = audio_fp(plan, ids.speech, ids.music, ids.mixer)
    render = {"audio_tracks": audio, "final_video": final_fp(plan, clips, audio)}
    return Expected(segments=segments, render=render, keyframes=keyframes)


def in_store(store: ArtifactStore, stage: str, fp: str, keyframes: tuple[str, ...] = ()) -> bool:
    """Whether the stage's artifact is stored; keyframe_images needs both boundary images."""
    folder, name = STAGE_FILES[stage]
    if stage == "keyframe_images":
        return all(store.has(folder, k, name) for k in keyframes)
    return store.has(folder, fp, name)


@dataclass
class RenderStaleness:
    """What a render needs: stale stages per segment key, and stale render-level stages."""

    plan: RenderPlan
    expected: Expected
    stale_segments: dict[str, list[str]] = field(default_factory=dict)
    stale_render_stages: list[str] = field(default_factory=list)

    @property
    def fresh_segments(self) -> list[str]:
        return [s.key for s in self.plan.segments if s.key not in self.stale_segments]

    @property
    def up_to_date(self) -> bool:
        return not self.stale_segments and not self.stale_render_stages


def assess_render(
    plan: RenderPlan, resources: Mapping[str, object], instance: DagsterInstance
) -> RenderStaleness:
    """Compare the plan's expected fingerprints with the instance's records and the store."""
    store: ArtifactStore = resources["store"]
    expected = expected_versions(plan, Identities.of(resources))
    result = RenderStaleness(plan=plan, expected=expected)
    # 1. Per-segment stages: one query pair per stage for all of the render's partitions.
    partitions = {str(segment_partition_key(plan.render, s.key)): s.key for s in plan.segments}
    for stage in SEGMENT_STAGES:
        recorded = recorded_versions(instance, stage, list(partitions))
        for partition, key in partitions.items():
            fp = expected.segments[key][stage]
            stored = in_store(store, stage, fp, expected.keyframes[key])
            if recorded[partition] != fp or not stored:
                result.stale_segments.setdefault(key, []).append(stage)
    # 2. Render-level stages.
    for stage in RENDER_STAGES:
        fp = expected.render[stage]
        recorded = recorded_versions(instance, stage, [plan.render])[plan.render]
        if recorded != fp or not in_store(store, stage, fp):
            result.stale_render_stages.append(stage)
    return result


def audio_runs_beside_segments(staleness: RenderStaleness) -> bool:
    """audio_tracks reads only the plan, so when it is stale while segments are too, it can
    run at the same time as the segment runs instead of after them."""
    return bool(staleness.stale_segments) and "audio_tracks" in staleness.stale_render_stages


def render_stages_to_run(staleness: RenderStaleness, segments_ran: bool) -> list[str]:
    """The render-level stages a render needs: the stale ones, and `final_video` whenever
    anything before it ran: it re-publishes the render's files, including sidecars made from
    inputs (captions) that its own fingerprint does not cover; when cached it only copies."""
    stages = list(staleness.stale_render_stages)
    if (stages or segments_ran) and "final_video" not in stages:
        stages.append("final_video")
    return stages


@dataclass
class PlanStatus:
    render: str
    fingerprint: str
    fresh: bool  # recorded by Dagster and in the store: the plan can be read, not re-made
    plan: RenderPlan | None = None


def plan_fingerprint(prompt_file: Path, resources: Mapping[str, object]) -> tuple[str, str]:
    """(render, plan fingerprint) of a prompt file, as `segment_plan` computes it."""
    spec = load_prompt_file(prompt_file)
    render = render_name(prompt_file)
    ids = Identities.of(resources)
    return render, plan_fp(spec.model_dump(mode="json"), render, ids.planner, ids.defaults)


def assess_plan(
    prompt_file: Path, resources: Mapping[str, object], instance: DagsterInstance
) -> PlanStatus:
    """Whether `segment_plan` for this file is fresh; if so, the stored plan with it."""
    store: ArtifactStore = resources["store"]
    render, fp = plan_fingerprint(prompt_file, resources)
    recorded = recorded_versions(instance, "segment_plan", [render])[render]
    if recorded != fp or not in_store(store, "segment_plan", fp):
        return PlanStatus(render=render, fingerprint=fp, fresh=False)
    return PlanStatus(render=render, fingerprint=fp, fresh=True, plan=read_plan(store, fp))


def read_plan(store: ArtifactStore, fp: str) -> RenderPlan:
    folder, name = STAGE_FILES["segment_plan"]
    text = store.artifact_path(folder, fp, name).read_text(encoding="utf-8")
    return RenderPlan.model_validate_json(text)


@dataclass
class StaleRender:
    render: str
    prompt_file: Path
    reason: str


def stale_renders(
    instance: DagsterInstance, resources: Mapping[str, object], prompts_dir: str
) -> tuple[list[StaleRender], list[str]]:
    """Every registered render that a config, code or prompt change left stale, and one
    line per render that cannot be checked (its prompt file is gone or malformed)."""
    store: ArtifactStore = resources["store"]
    stale: list[StaleRender] = []
    problems: list[str] = []
    for render in sorted(instance.get_dynamic_partitions("renders")):
        try:
            path = find_prompt_file(render, store, prompts_dir)
            status = assess_plan(path, resources, instance)
        except LongvidError as exc:
            problems.append(str(exc))
            continue
        if not status.fresh:
            stale.append(StaleRender(render, path, "segment_plan"))
            continue
        result = assess_render(status.plan, resources, instance)
        if not result.up_to_date:
            parts = list(result.stale_render_stages)
            if result.stale_segments:
                parts.insert(0, f"segments {', '.join(sorted(result.stale_segments))}")
            stale.append(StaleRender(render, path, "; ".join(parts)))
    return stale, problems
