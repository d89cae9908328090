"""The Dagster definitions: six partitioned assets, resources chosen by `configs/*.yaml`.

`LONGVID_CONFIG` picks the config (default: configs/default.yaml, the embedded backends).
"""

from dagster import Definitions, define_asset_job

from longvid_assets.assets.audio_tracks import audio_tracks
from longvid_assets.assets.clip_captions import clip_captions
from longvid_assets.assets.final_video import final_video
from longvid_assets.assets.keyframe_images import keyframe_images
from longvid_assets.assets.segment_clips import segment_clips
from longvid_assets.assets.segment_plan import segment_plan
from longvid_assets.config import LongvidConfig, load_config

ALL_ASSETS = [segment_plan, keyframe_images, segment_clips, clip_captions, audio_tracks, final_video]

plan_job = define_asset_job("plan_job", selection=["segment_plan"])
segment_job = define_asset_job(
    "segment_job", selection=["keyframe_images", "segment_clips", "clip_captions"]
)
render_job = define_asset_job("render_job", selection=["audio_tracks", "final_video"])


def build_definitions(config: LongvidConfig | None = None) -> Definitions:
    config = config or load_config()
    return Definitions(
        assets=ALL_ASSETS,
        jobs=[plan_job, segment_job, render_job],
        resources=config.resources,
    )


defs = build_definitions()
