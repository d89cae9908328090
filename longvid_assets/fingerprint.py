"""Fingerprints: recipe hashes that say exactly what an artifact was made from.

A fingerprint hashes the stage's code version, the backend's identity (name + effective
config, never secrets), the seed and the fingerprints of its inputs. Generation is
deterministic given those, so every fingerprint of a render can be computed from its plan
and the resources alone — before anything is generated. The store is addressed by them,
Dagster records them as the `DataVersion`, and a partition is stale exactly when its
fingerprint is not yet in the store.
"""

import hashlib
import json

from longvid_assets.plan import RenderPlan

# Bump a stage's version when its output for the same inputs changes.
CODE_VERSIONS = {
    "segment_plan": "1",
    "keyframe_images": "1",
    "segment_clips": "1",
    "clip_captions": "1",
    "audio_tracks": "1",
    "final_video": "1",
}


def fingerprint(*parts) -> str:
    """A stable 32-hex-digit hash of JSON-able parts."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def boundary_seed(plan: RenderPlan, k: int) -> int:
    return int(fingerprint("boundary-seed", plan.seed, plan.boundary(k))[:8], 16)


def plan_fp(spec_json: dict, render: str, planner: dict, defaults: dict) -> str:
    return fingerprint(
        "segment_plan", CODE_VERSIONS["segment_plan"], spec_json, render, planner, defaults
    )


def keyframe_fp(plan: RenderPlan, k: int, images: dict) -> str:
    """A generator that refines each keyframe from the previous one (`refines_previous` in
    its identity: img2img, inpainting) chains in the previous keyframe's fingerprint."""
    chained = bool(images.get("refines_previous"))
    fp = None
    for j in range(k + 1) if chained else [k]:
        parts = (
            "keyframe",
            CODE_VERSIONS["keyframe_images"],
            images,
            plan.boundary(j),
            plan.style,
            list(plan.resolution),
            boundary_seed(plan, j),
            j == 0,  # the opening frame carries the title card
            plan.title if j == 0 else None,
        )
        fp = fingerprint(*parts, fp) if chained else fingerprint(*parts)
    return fp


def clip_fp(plan: RenderPlan, i: int, video: dict, images: dict) -> str:
    seg = plan.segments[i]
    return fingerprint(
        "clip",
        CODE_VERSIONS["segment_clips"],
        video,
        keyframe_fp(plan, i, images),
        keyframe_fp(plan, i + 1, images),
        seg.prompt,
        plan.style,
        plan.frame_count(i),
        plan.fps,
        list(plan.resolution),
        seg.seed,
    )


def caption_fp(plan: RenderPlan, i: int, captioner: dict, video: dict, images: dict) -> str:
    # The captioner sees the clip and the segment's prompt, never its narration: a
    # narration-only edit must not re-caption (or re-generate) any picture.
    seg = plan.segments[i]
    return fingerprint(
        "caption",
        CODE_VERSIONS["clip_captions"],
        captioner,
        clip_fp(plan, i, video, images),
        seg.prompt,
    )


def narration_fp(plan: RenderPlan, i: int, speech: dict) -> str:
    seg = plan.segments[i]
    return fingerprint(
        "narration",
        CODE_VERSIONS["audio_tracks"],
        speech,
        seg.narration,
        plan.voice,
        plan.frame_count(i) / plan.fps,
    )


def music_fp(plan: RenderPlan, music: dict) -> str:
    return fingerprint(
        "music", CODE_VERSIONS["audio_tracks"], music, plan.music_mood, plan.seed, plan.duration_s
    )


def audio_fp(plan: RenderPlan, speech: dict, music: dict, mixer: dict) -> str:
    narrations = [narration_fp(plan, i, speech) for i in range(len(plan.segments))]
    starts = [plan.start_s(i) for i in range(len(plan.segments))]
    return fingerprint(
        "audio", CODE_VERSIONS["audio_tracks"], mixer, narrations, starts, music_fp(plan, music)
    )


def final_fp(plan: RenderPlan, clips: list[str], audio: str) -> str:
    subtitles = [(s.narration, plan.start_s(s.index), s.duration_s) for s in plan.segments]
    return fingerprint("final", CODE_VERSIONS["final_video"], clips, audio, plan.title, subtitles)
