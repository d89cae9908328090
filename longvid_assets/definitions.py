"""The Dagster definitions: six partitioned assets, resources chosen by `configs/*.yaml`.

`LONGVID_CONFIG` picks the config (default: configs/default.yaml, the embedded backends).
"""

from dagster import Definitions

from longvid_assets.assets.audio_tracks import audio_tracks
from longvid_assets.assets.clip_captions import clip_captions
from longvid_assets.assets.final_video import final_video
from longvid_assets.assets.keyframe_images import keyframe_images
from longvid_assets.assets.segment_clips import segment_clips
from longvid_assets.assets.segment_plan import segment_plan
from longvid_assets.config import LongvidConfig, load_config
from longvid_assets.jobs import plan_job, render_job, segment_job
from longvid_assets.schedules import build_schedules
from longvid_assets.sensors import build_sensors

ALL_ASSETS = [
    segment_plan,
    keyframe_images,
    segment_clips,
    clip_captions,
    audio_tracks,
    final_video,
]

__all__ = ["ALL_ASSETS", "build_definitions", "defs", "plan_job", "render_job", "segment_job"]


def build_definitions(config: LongvidConfig | None = None) -> Definitions:
    config = config or load_config()
    return Definitions(
        assets=ALL_ASSETS,
        jobs=[plan_job, segment_job, render_job],
        sensors=build_sensors(config),
        schedules=build_schedules(config),
        resources=config.resources,
    )


defs = build_definitions()
