"""Asset jobs, one per kind of run, and the run tags that tie runs to renders.

- `plan_job` [render]: segment_plan.
- `segment_job` [render|segment]: keyframe_images, segment_clips, clip_captions.
- `render_job` [render]: audio_tracks, final_video.
"""

from dagster import define_asset_job

RENDER_TAG = "longvid/render"  # every longvid run: which render it belongs to
PLAN_TAG = "longvid/plan"  # sensor-requested runs: the plan materialization they follow
DRIVER_TAG = "longvid/driver"  # runs whose caller renders the segments itself (the CLI)
TRIGGER_TAG = "longvid/trigger"  # what requested a run: sensor, schedule

plan_job = define_asset_job("plan_job", selection=["segment_plan"])
segment_job = define_asset_job(
    "segment_job", selection=["keyframe_images", "segment_clips", "clip_captions"]
)
render_job = define_asset_job("render_job", selection=["audio_tracks", "final_video"])
