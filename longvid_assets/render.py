"""Render one prompt file through Dagster: plan, then each segment, then the render stages.

Used by the CLI, the tests and the benchmarks. Each step is a real Dagster run in the given
instance, so it shows in the UI with its logs and materializations.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dagster import DagsterInstance, materialize

from longvid_assets.config import LongvidConfig
from longvid_assets.definitions import ALL_ASSETS
from longvid_assets.errors import LongvidError
from longvid_assets.partitions import register_render, segment_partition_key
from longvid_assets.plan import RenderPlan
from longvid_assets.prompts import load_prompt_file, render_name
from longvid_assets.records import FinalVideo

SEGMENT_STAGES = ["keyframe_images", "segment_clips", "clip_captions"]
RENDER_STAGES = ["audio_tracks", "final_video"]


@dataclass
class RenderOutcome:
    render: str
    plan: RenderPlan
    final: FinalVideo
    run_ids: list[str] = field(default_factory=list)
    cached_steps: int = 0
    built_steps: int = 0
    checks: dict[str, bool] = field(default_factory=dict)  # "partition check_name" -> passed


def failure_message(result) -> str:
    """The one-line reason of a failed run: a Failure's description, else the error's last line."""
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        if data.user_failure_data and data.user_failure_data.description:
            return data.user_failure_data.description
        if data.error:
            error = data.error.cause or data.error
            return error.message.strip().splitlines()[-1]
    return "the run failed — open it in the Dagster UI for its logs"


def render_prompt_file(
    path: Path,
    config: LongvidConfig,
    instance: DagsterInstance,
    progress: Callable[[str], None] = lambda line: None,
    log_level: str = "INFO",
) -> RenderOutcome:
    # 1. Validate before anything is written, then register the render.
    path = Path(path)
    load_prompt_file(path)
    name = render_name(path)
    config.resources["store"].remember_source(name, path)
    register_render(instance, name)
    outcome_runs: list[str] = []
    counts = {"cached": 0, "built": 0}
    checks: dict[str, bool] = {}

    def run(selection: list[str], partition_key, label: str):
        started = time.perf_counter()
        result = materialize(
            ALL_ASSETS,
            selection=selection,
            partition_key=partition_key,
            instance=instance,
            resources=config.resources,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
            tags={"longvid/render": name, "longvid/config": config.name},
        )
        outcome_runs.append(result.run_id)
        if not result.success:
            raise LongvidError(f"{path}: {label} failed: {failure_message(result)}")
        for node in selection:
            for mat in result.asset_materializations_for_node(node):
                counts["cached" if mat.metadata["cached"].value else "built"] += 1
        for evaluation in result.get_asset_check_evaluations():
            checks[f"{evaluation.partition or partition_key} {evaluation.check_name}"] = evaluation.passed
        progress(f"{label:<34} {time.perf_counter() - started:5.1f}s")
        return result

    # 2. Plan; the asset registers the render's segment partitions.
    plan = run(["segment_plan"], name, "[1/3] segment_plan").output_for_node("segment_plan")
    # 3. Per-segment stages: one run per segment (models load once per process).
    for seg in plan.segments:
        label = f"[2/3] segment {seg.index + 1}/{len(plan.segments)}"
        run(SEGMENT_STAGES, segment_partition_key(name, seg.key), label)
    # 4. Render-level stages.
    result = run(RENDER_STAGES, name, "[3/3] audio_tracks + final_video")
    return RenderOutcome(
        render=name,
        plan=plan,
        final=result.output_for_node("final_video"),
        run_ids=outcome_runs,
        cached_steps=counts["cached"],
        built_steps=counts["built"],
        checks=checks,
    )
