"""The one place that decides which Dagster runs a render needs next.

A render moves through three phases; each call answers "what now?" from the plan's
fingerprints and what the instance and store hold (`staleness.py`), so it is safe to ask
again at any time (after a crash, a config change, an edit):

1. `segment_plan`, when the prompt file, planner or defaults changed;
2. one run per stale segment (only its stale stages), and `audio_tracks` beside them when
   it is stale (it reads only the plan);
3. once every segment is fresh: the stale render-level stages, and `final_video` after any
   segment run (it re-publishes the sidecars).

`sensors.py` turns these into `RunRequest`s for the daemon; `render.py` (`longvid render`)
executes the same list itself, running as many segments at once as there are GPU workers.
"""

from dataclasses import dataclass, field

from dagster import AssetKey, MultiPartitionKey, RunRequest

from longvid_assets.jobs import plan_job, render_job, segment_job
from longvid_assets.partitions import segment_partition_key
from longvid_assets.staleness import (
    RenderStaleness,
    audio_runs_beside_segments,
    render_stages_to_run,
)


@dataclass
class RunSpec:
    """One Dagster run: a job, a partition and the stages (assets) it materializes."""

    job: str
    partition: str | MultiPartitionKey
    stages: list[str]
    label: str
    fingerprint: str  # of its last stage: with the plan's id it makes a unique run key
    segment: str | None = None  # segment key, for per-segment runs

    def run_request(self, tags: dict[str, str], plan_id: int | str) -> RunRequest:
        return RunRequest(
            job_name=self.job,
            partition_key=self.partition,
            asset_selection=[AssetKey(stage) for stage in self.stages],
            run_key=f"{self.partition}:{self.fingerprint[:12]}:{plan_id}",
            tags=tags,
        )


@dataclass
class NextRuns:
    """What a planned render needs now: segment runs (phase 2) or the render-level run."""

    segments: list[RunSpec] = field(default_factory=list)
    beside: list[RunSpec] = field(default_factory=list)  # audio_tracks during phase 2
    render: RunSpec | None = None

    @property
    def all(self) -> list[RunSpec]:
        return [*self.segments, *self.beside, *([self.render] if self.render else [])]


def plan_run(render: str, fingerprint: str) -> RunSpec:
    return RunSpec(plan_job.name, render, ["segment_plan"], "[1/3] segment_plan", fingerprint)


def next_runs(staleness: RenderStaleness, segments_ran: bool) -> NextRuns:
    """Phase 2 while any segment is stale, else phase 3 (nothing when all is fresh)."""
    plan, expected = staleness.plan, staleness.expected
    out = NextRuns()
    count = len(plan.segments)
    for seg in plan.segments:
        stages = staleness.stale_segments.get(seg.key)
        if not stages:
            continue
        out.segments.append(
            RunSpec(
                segment_job.name,
                segment_partition_key(plan.render, seg.key),
                stages,
                f"[2/3] segment {seg.index + 1}/{count}",
                expected.segments[seg.key][stages[-1]],
                segment=seg.key,
            )
        )
    if out.segments:
        if audio_runs_beside_segments(staleness):
            audio = expected.render["audio_tracks"]
            out.beside.append(
                RunSpec(render_job.name, plan.render, ["audio_tracks"], "[3/3] audio_tracks", audio)
            )
        return out
    stages = render_stages_to_run(staleness, segments_ran)
    if stages:
        final = expected.render["final_video"]
        out.render = RunSpec(
            render_job.name, plan.render, stages, f"[3/3] {' + '.join(stages)}", final
        )
    return out
