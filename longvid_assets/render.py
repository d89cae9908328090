"""Render one prompt file through Dagster: what `longvid render` does.

It executes the runs `orchestrator.next_runs` decides, as real Dagster runs in the given
instance (they show in the UI with their logs and materializations): the plan, then every
stale segment — as many at once as the `compute` resource has GPU workers — with
`audio_tracks` beside them, then the render-level stages. Fresh partitions get no run.
"""

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from dagster import DagsterInstance, materialize

from longvid_assets.assets.final_video import final_record, republish_damaged
from longvid_assets.config import LongvidConfig
from longvid_assets.definitions import ALL_ASSETS
from longvid_assets.errors import LongvidError
from longvid_assets.jobs import DRIVER_TAG, RENDER_TAG
from longvid_assets.orchestrator import RunSpec, next_runs, plan_run
from longvid_assets.partitions import register_render
from longvid_assets.plan import RenderPlan
from longvid_assets.prompts import load_prompt_file, render_name
from longvid_assets.records import FinalVideo
from longvid_assets.recovery import fail_dead_runs, process_tags
from longvid_assets.staleness import RENDER_STAGES, SEGMENT_STAGES, assess_plan, assess_render
from longvid_assets.threaded_runs import threaded_runs_instance

__all__ = ["RENDER_STAGES", "SEGMENT_STAGES", "RenderOutcome", "render_prompt_file"]


@dataclass
class RenderOutcome:
    render: str
    plan: RenderPlan
    final: FinalVideo
    path: Path  # the published MP4, a local file
    subtitles: Path  # the SRT beside it
    run_ids: list[str] = field(default_factory=list)
    cached_steps: int = 0
    built_steps: int = 0
    checks: dict[str, bool] = field(default_factory=dict)  # "partition check_name" -> passed
    # stage -> segment key (or render) -> "built" | "cached"; a fresh partition is "cached"
    # and also listed in `skipped` (no run was launched for it).
    statuses: dict[str, dict[str, str]] = field(default_factory=dict)
    skipped: set[tuple[str, str]] = field(default_factory=set)
    parallel: int = 1  # segments made at once


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


class _Tally:
    """What the runs of one render did, gathered from several threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.run_ids: list[str] = []
        self.counts = {"cached": 0, "built": 0}
        self.checks: dict[str, bool] = {}
        self.statuses: dict[str, dict[str, str]] = {}
        self.skipped: set[tuple[str, str]] = set()

    def fresh(self, stage: str, key: str) -> None:
        with self.lock:
            self.counts["cached"] += 1
            self.statuses.setdefault(stage, {})[key] = "cached"
            self.skipped.add((stage, key))

    def add(self, spec: RunSpec, key: str, result) -> None:
        with self.lock:
            self.run_ids.append(result.run_id)
            for node in spec.stages:
                for mat in result.asset_materializations_for_node(node):
                    status = "cached" if mat.metadata["cached"].value else "built"
                    self.counts[status] += 1
                    self.statuses.setdefault(node, {})[key] = status
            for evaluation in result.get_asset_check_evaluations():
                where = evaluation.partition or spec.partition
                self.checks[f"{where} {evaluation.check_name}"] = evaluation.passed


class Progress:
    """Per-segment progress lines with an ETA from the segments done so far."""

    def __init__(self, emit: Callable[[str], None], total: int, parallel: int):
        self.emit, self.total, self.parallel = emit, total, parallel
        self.done, self.seconds = 0, 0.0
        self.lock = threading.Lock()

    def finished(self, spec: RunSpec, seconds: float) -> None:
        with self.lock:
            self.done += 1
            self.seconds += seconds
            left = self.total - self.done
            eta = self.seconds / self.done * left / self.parallel
            tail = f"{self.done}/{self.total} done" + (f", ETA {eta:.0f}s" if left else "")
            self.emit(f"{spec.label:<34} {seconds:5.1f}s  ({tail})")


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
    resources = config.resources
    store = resources["store"]
    store.remember_source(name, path)
    register_render(instance, name)
    # 2. What a killed render left: its runs marked failed, its temp files swept.
    fail_dead_runs(instance)
    store.sweep_temp()
    tally = _Tally()
    parallel = max(1, resources["compute"].worker_count())
    runner = instance if parallel == 1 else threaded_runs_instance(instance)
    tags = {RENDER_TAG: name, "longvid/config": config.name, DRIVER_TAG: "longvid render"}
    tags |= process_tags()  # which process executes these runs, for `fail_dead_runs`

    def execute(spec: RunSpec):
        """One Dagster run in this process; a failure is one line naming the stage."""
        result = materialize(
            ALL_ASSETS,
            selection=spec.stages,
            partition_key=spec.partition,
            instance=runner,
            resources=resources,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
            # DRIVER_TAG: this caller renders the segments itself; the plan sensor stays out.
            tags=tags,
        )
        if not result.success:
            raise LongvidError(f"{path}: {spec.label} failed: {failure_message(result)}")
        tally.add(spec, spec.segment or name, result)
        return result

    # 3. Plan, unless the instance already recorded this file's plan fingerprint.
    status = assess_plan(path, resources, instance)
    if status.fresh:
        plan = status.plan
        register_render(instance, name, len(plan.segments))
        tally.fresh("segment_plan", name)
        progress("[1/3] segment_plan                   fresh")
    else:
        started = time.perf_counter()
        plan = execute(plan_run(name, status.fingerprint)).output_for_node("segment_plan")
        progress(f"{'[1/3] segment_plan':<34} {time.perf_counter() - started:5.1f}s")
    # 4. Stale segments, `parallel` at once, with audio_tracks beside them.
    staleness = assess_render(plan, resources, instance)
    todo = next_runs(staleness, segments_ran=False)
    for seg in plan.segments:
        for stage in SEGMENT_STAGES:
            if stage not in staleness.stale_segments.get(seg.key, []):
                tally.fresh(stage, seg.key)
    if staleness.fresh_segments:
        fresh = f"{len(staleness.fresh_segments)}/{len(plan.segments)}"
        progress(f"[2/3] {fresh} segments fresh, skipped")
    if todo.segments:
        resources["compute"].prepare()
        run_segments(todo, execute, progress, parallel)
    # 5. Render-level stages: the stale ones, and final_video after any segment run.
    staleness = assess_render(plan, resources, instance)
    final_run = next_runs(staleness, segments_ran=bool(todo.segments)).render
    ran_beside = {stage for spec in todo.beside for stage in spec.stages}
    for stage in RENDER_STAGES:
        if stage not in ran_beside and (final_run is None or stage not in final_run.stages):
            tally.fresh(stage, name)
    if final_run is not None:
        progress(f"{final_run.label} …")
        started = time.perf_counter()
        final = execute(final_run).output_for_node("final_video")
        progress(f"{final_run.label:<34} {time.perf_counter() - started:5.1f}s")
    else:
        final_fp = staleness.expected.render["final_video"]
        final = final_record(store, plan, final_fp)
        repaired = republish_damaged(store, name, final_fp)
        note = f"fresh; published again: {', '.join(repaired)}" if repaired else "fresh"
        progress(f"[3/3] audio_tracks + final_video     {note}")
    return RenderOutcome(
        render=name,
        plan=plan,
        final=final,
        path=store.published_path(name, f"{name}.mp4"),
        subtitles=store.published_path(name, f"{name}.srt"),
        run_ids=tally.run_ids,
        cached_steps=tally.counts["cached"],
        built_steps=tally.counts["built"],
        checks=tally.checks,
        statuses=tally.statuses,
        skipped=tally.skipped,
        parallel=parallel,
    )


def run_segments(todo, execute, progress, parallel: int) -> None:
    """The segment runs, `parallel` at a time (one per GPU worker), audio beside them."""
    meter = Progress(progress, len(todo.segments), parallel)

    def one(spec: RunSpec) -> None:
        started = time.perf_counter()
        execute(spec)
        if spec.segment is not None:
            meter.finished(spec, time.perf_counter() - started)
        else:
            progress(f"{spec.label:<34} {time.perf_counter() - started:5.1f}s")

    if parallel == 1:
        for spec in [*todo.segments, *todo.beside]:
            one(spec)
        return
    if todo.beside:
        progress(f"[3/3] {' + '.join(s.stages[0] for s in todo.beside)} beside the segments …")
    with ThreadPoolExecutor(parallel + len(todo.beside), thread_name_prefix="longvid") as pool:
        futures = [pool.submit(one, spec) for spec in [*todo.beside, *todo.segments]]
        errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]
