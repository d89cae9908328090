"""Render one prompt file through Dagster: plan, then each stale segment, then the render stages.

Used by the CLI, the tests and the benchmarks. Each step is a real Dagster run in the given
instance, so it shows in the UI with its logs and materializations. Before launching a run
the expected fingerprints are compared with what the instance recorded and the store holds
(`staleness.py`): a fresh partition gets no run at all, so a rerun after a one-segment edit
costs one segment run plus the render-level stages.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, MultiPartitionKey, materialize

from longvid_assets.config import LongvidConfig
from longvid_assets.definitions import ALL_ASSETS
from longvid_assets.errors import LongvidError
from longvid_assets.jobs import DRIVER_TAG, RENDER_TAG
from longvid_assets.partitions import register_render, segment_partition_key
from longvid_assets.plan import RenderPlan
from longvid_assets.prompts import load_prompt_file, render_name
from longvid_assets.records import FinalVideo
from longvid_assets.staleness import (
    RENDER_STAGES,
    SEGMENT_STAGES,
    assess_plan,
    assess_render,
    render_stages_to_run,
)

__all__ = ["RENDER_STAGES", "SEGMENT_STAGES", "RenderOutcome", "render_prompt_file"]


@dataclass
class RenderOutcome:
    render: str
    plan: RenderPlan
    final: FinalVideo
    run_ids: list[str] = field(default_factory=list)
    cached_steps: int = 0
    built_steps: int = 0
    checks: dict[str, bool] = field(default_factory=dict)  # "partition check_name" -> passed
    # stage -> segment key (or render) -> "built" | "cached"; a fresh partition is "cached"
    # and also listed in `skipped` (no run was launched for it).
    statuses: dict[str, dict[str, str]] = field(default_factory=dict)
    skipped: set[tuple[str, str]] = field(default_factory=set)


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


def latest_final(instance: DagsterInstance, render: str, plan: RenderPlan) -> FinalVideo:
    """The final video the instance last recorded for a render (it is fresh: no run needed).

    final_video publishes `<render>.mp4` beside the `<render>.srt` its metadata names.
    """
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("final_video"), asset_partitions=[render]), limit=1
    ).records
    metadata = records[0].asset_materialization.metadata
    subtitles = Path(str(metadata["subtitles"].value))
    return FinalVideo(
        path=str(subtitles.with_suffix(".mp4")),
        subtitles=str(subtitles),
        fingerprint=str(metadata["fingerprint"].value),
        duration_s=plan.duration_s,
    )


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
    statuses: dict[str, dict[str, str]] = {}
    skipped: set[tuple[str, str]] = set()

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
            # DRIVER_TAG: this caller renders the segments itself; the plan sensor stays out.
            tags={RENDER_TAG: name, "longvid/config": config.name, DRIVER_TAG: "longvid render"},
        )
        if not result.success:
            raise LongvidError(f"{path}: {label} failed: {failure_message(result)}")
        if isinstance(partition_key, MultiPartitionKey):
            key = partition_key.keys_by_dimension["segment"]
        else:
            key = name
        outcome_runs.append(result.run_id)
        for node in selection:
            for mat in result.asset_materializations_for_node(node):
                status = "cached" if mat.metadata["cached"].value else "built"
                counts[status] += 1
                statuses.setdefault(node, {})[key] = status
        for evaluation in result.get_asset_check_evaluations():
            where = evaluation.partition or partition_key
            checks[f"{where} {evaluation.check_name}"] = evaluation.passed
        progress(f"{label:<34} {time.perf_counter() - started:5.1f}s")
        return result

    def fresh(stage: str, key: str) -> None:
        counts["cached"] += 1
        statuses.setdefault(stage, {})[key] = "cached"
        skipped.add((stage, key))

    # 2. Plan, unless the instance already recorded this file's plan fingerprint. The
    #    asset registers the render's segment partitions.
    plan_status = assess_plan(path, config.resources, instance)
    if plan_status.fresh:
        plan = plan_status.plan
        register_render(instance, name, len(plan.segments))
        fresh("segment_plan", name)
        progress("[1/3] segment_plan                   fresh")
    else:
        plan = run(["segment_plan"], name, "[1/3] segment_plan").output_for_node("segment_plan")
    # 3. Per-segment stages: one run per stale segment, selecting only its stale stages
    #    (models load once per process); fresh partitions get no run. (Runs stay
    #    sequential here: Dagster's in-process compute-log capture is not thread-safe.)
    staleness = assess_render(plan, config.resources, instance)
    for seg in plan.segments:
        stale = staleness.stale_segments.get(seg.key, [])
        for stage in SEGMENT_STAGES:
            if stage not in stale:
                fresh(stage, seg.key)
        if stale:
            label = f"[2/3] segment {seg.index + 1}/{len(plan.segments)}"
            run(stale, segment_partition_key(name, seg.key), label)
    if staleness.fresh_segments:
        fresh_count = f"{len(staleness.fresh_segments)}/{len(plan.segments)}"
        progress(f"[2/3] {fresh_count} segments fresh, skipped")
    # 4. Render-level stages: the stale ones, and final_video after any segment run.
    stale_render = render_stages_to_run(staleness, segments_ran=bool(staleness.stale_segments))
    for stage in RENDER_STAGES:
        if stage not in stale_render:
            fresh(stage, name)
    if stale_render:
        result = run(stale_render, name, f"[3/3] {' + '.join(stale_render)}")
        final = result.output_for_node("final_video")
    else:
        final = latest_final(instance, name, plan)
        progress("[3/3] audio_tracks + final_video     fresh")
    return RenderOutcome(
        render=name,
        plan=plan,
        final=final,
        run_ids=outcome_runs,
        cached_steps=counts["cached"],
        built_steps=counts["built"],
        checks=checks,
        statuses=statuses,
        skipped=skipped,
    )
