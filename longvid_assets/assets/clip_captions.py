"""clip_captions [render×segment]: what each clip shows, measured and captioned.

The measured analysis (motion, brightness, colour, seam match) always runs; the configured
captioner adds its text. Three asset checks guard every clip: its first/last frames match
their keyframes (seams), its length is within one frame of the plan, and a model's caption
means roughly what the segment's prompt asked for (prompt adherence, warn only).
"""

import json

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    DataVersion,
    Output,
    asset,
)

from longvid_assets.artifacts import CAPTION_FILE, caption_ref
from longvid_assets.assets.common import (
    Timer,
    absent_output,
    artifact_location,
    in_plan,
    stage_metadata,
    task_metadata,
    user_errors,
)
from longvid_assets.compute.base import GpuCompute
from longvid_assets.compute.work import caption_task
from longvid_assets.fingerprint import CODE_VERSIONS, caption_fp, fingerprint
from longvid_assets.media.analysis import ClipAnalysis
from longvid_assets.partitions import by_render, render_segment_partitions, split_key
from longvid_assets.plan import RenderPlan
from longvid_assets.records import CaptionRecord, ClipRecord, KeyframePair
from longvid_assets.resources.adherence import PromptAdherence
from longvid_assets.resources.captioner import Captioner
from longvid_assets.resources.images import ImageGenerator
from longvid_assets.resources.store import ArtifactStore
from longvid_assets.resources.video import VideoGenerator

CHECKS = ["seam_match", "duration_matches_plan", "prompt_adherence"]
ADHERENCE_FILE = "adherence.json"
SEAM_MATCH_MIN = 0.85


def seam_check(analysis: ClipAnalysis) -> AssetCheckResult:
    worst = min(analysis.first_seam_match, analysis.last_seam_match)
    return AssetCheckResult(
        check_name="seam_match",
        passed=worst >= SEAM_MATCH_MIN,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "first_seam_match": analysis.first_seam_match,
            "last_seam_match": analysis.last_seam_match,
            "threshold": SEAM_MATCH_MIN,
        },
    )


def duration_check(analysis: ClipAnalysis, planned_frames: int, fps: int) -> AssetCheckResult:
    return AssetCheckResult(
        check_name="duration_matches_plan",
        passed=abs(analysis.frames - planned_frames) <= 1,
        metadata={
            "frames": analysis.frames,
            "planned_frames": planned_frames,
            "duration_s": analysis.frames / fps,
            "planned_duration_s": planned_frames / fps,
        },
    )


def adherence_check(
    caption: str,
    prompt: str,
    caption_fingerprint: str,
    captioner: Captioner,
    adherence: PromptAdherence,
    store: ArtifactStore,
) -> AssetCheckResult:
    """Caption-vs-prompt similarity against `adherence.threshold`; the score is stored by the
    caption's fingerprint and the adherence model, so a cached run loads no model."""
    metadata = {"threshold": adherence.threshold, "scorer": adherence.made_by()}
    if captioner.tier == "embedded":
        note = "not scored: the measured caption quotes the prompt (score model captions only)"
        return AssetCheckResult(
            check_name="prompt_adherence",
            passed=True,
            severity=AssetCheckSeverity.WARN,
            metadata={**metadata, "note": note},
        )
    fp = fingerprint("adherence", caption_fingerprint, adherence.identity())
    if store.has("adherence", fp, ADHERENCE_FILE):
        stored = store.artifact_path("adherence", fp, ADHERENCE_FILE).read_text()
        score = json.loads(stored)["score"]
    else:
        score = adherence.score(caption, prompt)
        with store.writing("adherence", fp, ADHERENCE_FILE) as tmp:
            tmp.write_text(json.dumps({"score": score, "scorer": adherence.identity()}), "utf-8")
    metadata.update(caption=caption[:300], prompt=prompt[:300])
    if score is None:
        metadata["note"] = "not scored: adherence.backend is off"
    else:
        metadata["score"] = score
    return AssetCheckResult(
        check_name="prompt_adherence",
        passed=score is None or score >= adherence.threshold,
        severity=AssetCheckSeverity.WARN,
        metadata=metadata,
    )


@asset(
    partitions_def=render_segment_partitions,
    ins={"segment_plan": AssetIn(partition_mapping=by_render)},
    check_specs=[
        AssetCheckSpec(
            "seam_match",
            asset="clip_captions",
            description="First/last clip frames match their keyframes",
        ),
        AssetCheckSpec(
            "duration_matches_plan",
            asset="clip_captions",
            description="Clip length is within one frame of the plan",
        ),
        AssetCheckSpec(
            "prompt_adherence",
            asset="clip_captions",
            description="A model's caption is close in meaning to the segment prompt",
        ),
    ],
    code_version=CODE_VERSIONS["clip_captions"],
    group_name="longvid",
    pool="gpu",
    kinds={"pytorch"},
)
def clip_captions(
    context: AssetExecutionContext,
    segment_plan: RenderPlan,
    keyframe_images: KeyframePair | None,
    segment_clips: ClipRecord | None,
    captioner: Captioner,
    adherence: PromptAdherence,
    image_generator: ImageGenerator,
    video_generator: VideoGenerator,
    compute: GpuCompute,
    store: ArtifactStore,
):
    """A caption and measurements for the clip, plus seam, duration and adherence checks."""
    timer, plan = Timer(), segment_plan
    render, index = split_key(context)
    if not in_plan(plan, index) or segment_clips is None or keyframe_images is None:
        yield from absent_output(plan, index, CHECKS)
        return
    results = []
    with user_errors():
        fp = caption_fp(
            plan,
            index,
            captioner.identity(),
            video_generator.identity(),
            image_generator.identity(),
        )
        cached = store.has("captions", fp, CAPTION_FILE)
        if not cached:
            # Measure (always) and caption with the configured backend, where it runs.
            keyframes = (keyframe_images.first_fp, keyframe_images.last_fp)
            task = caption_task(plan, index, fp, segment_clips.fingerprint, keyframes, captioner)
            results.append(compute.run(task, store, log=context.log.info))
        stored = json.loads(store.artifact_path("captions", fp, CAPTION_FILE).read_text())
        analysis, caption = ClipAnalysis.model_validate(stored["analysis"]), stored["caption"]
    record = CaptionRecord(
        caption_file=caption_ref(fp), fingerprint=fp, caption=caption, backend=captioner.made_by()
    )
    metadata = stage_metadata(
        captioner,
        fp,
        cached,
        timer,
        artifact=artifact_location(store, record.caption_file),
        caption=caption,
        mean_motion=round(analysis.mean_motion, 5),
        brightness=round(analysis.brightness, 4),
        first_seam_match=round(analysis.first_seam_match, 4),
        last_seam_match=round(analysis.last_seam_match, 4),
        **task_metadata(results),
    )
    yield Output(record, data_version=DataVersion(fp), metadata=metadata)
    yield seam_check(analysis)
    yield duration_check(analysis, plan.frame_count(index), plan.fps)
    with user_errors():
        prompt = plan.segments[index].prompt
        yield adherence_check(caption, prompt, fp, captioner, adherence, store)
