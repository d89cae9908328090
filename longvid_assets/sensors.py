"""Sensors: prompt files render themselves, and a new plan requests only its stale segments.

1. `prompt_folder_sensor` watches the config's `sensor.prompts_dir`. A new or changed file
   (by content hash) registers its render and requests a `plan_job` run; an unchanged file
   requests nothing; a malformed file logs one line per change of that file and blocks
   nothing else; a deleted file only leaves the cursor (its outputs stay). It never plans
   in the tick: planning (maybe a slow LLM call) happens in the run.
2. `stale_segments_sensor` follows every new `segment_plan` materialization (except those of
   `longvid render`, which drives its own segments): once the render has no run in flight,
   it requests what `orchestrator.next_runs` says the render needs — the stale segments
   (only their stale stages; audio_tracks beside them when stale), and when those runs are
   done and every segment is fresh, the render-level stages. `longvid render` executes the
   same decisions itself.

Both cursors are JSON kept by Dagster, so they survive daemon restarts; run keys include a
sequence number (folder) or the plan's storage id (segments), so "the same state again"
requests nothing and a later change can never collide with an earlier run key.
"""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from longvid_assets.config import LongvidConfig
from longvid_assets.errors import LongvidError, PromptFileError
from longvid_assets.jobs import (
    DRIVER_TAG,
    PLAN_TAG,
    RENDER_TAG,
    TRIGGER_TAG,
    plan_job,
    render_job,
    segment_job,
)
from longvid_assets.orchestrator import next_runs
from longvid_assets.partitions import renders_partitions
from longvid_assets.plan import drafts_from_spec
from longvid_assets.prompts import load_prompt_file, render_name
from longvid_assets.recovery import fail_dead_runs
from longvid_assets.resources.store import ArtifactStore
from longvid_assets.sources import prompt_files
from longvid_assets.staleness import assess_render, read_plan

PLAN_BATCH = 200
UNFINISHED = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def load_cursor(text: str | None) -> dict:
    try:
        cursor = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return cursor if isinstance(cursor, dict) else {}


# ---------------------------------------------------------------------------- 1. folder


@dataclass
class FolderScan:
    run_requests: list[RunRequest] = field(default_factory=list)
    renders: list[str] = field(default_factory=list)  # renders whose file is new or changed
    messages: list[str] = field(default_factory=list)  # warnings: one per bad file change
    notes: list[str] = field(default_factory=list)  # info: removed files
    cursor: dict = field(default_factory=dict)


def content_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:32]


def check_prompt_file(path: Path) -> None:
    """What `segment_plan` would reject without planning: the file, and explicit segments."""
    spec = load_prompt_file(path)
    if spec.segments:
        try:
            drafts_from_spec(spec)
        except ValueError as exc:
            raise PromptFileError(path, str(exc).splitlines()[0], "fix the segments") from None


def scan_prompt_folder(folder: Path, cursor: dict, store: ArtifactStore) -> FolderScan:
    """Compare the folder's files with the cursor (file name -> content hash).

    Cursor: {"seq": n, "files": {name: {"hash", "render"} or {"hash", "error": true}}}.
    """
    known: dict = cursor.get("files", {})
    seq = int(cursor.get("seq", 0))
    scan = FolderScan()
    files: dict[str, dict] = {}
    changed: list[tuple[Path, str]] = []
    for path in prompt_files(folder):
        try:
            digest = content_hash(path)
        except OSError:  # removed or unreadable between listing and reading: next tick
            continue
        entry = known.get(path.name)
        if entry and entry["hash"] == digest:
            files[path.name] = entry
        else:
            changed.append((path, digest))
    # Renders already taken by unchanged files, so two files never share one render.
    claimed = {e["render"]: name for name, e in files.items() if e.get("render")}
    for path, digest in changed:
        render = render_name(path)
        # 1. New or changed: validate without planning; a bad file logs one line, once.
        try:
            check_prompt_file(path)
            if render in claimed:
                raise PromptFileError(
                    path, f"render name '{render}' is taken by {claimed[render]}", "rename one file"
                )
        except LongvidError as exc:
            scan.messages.append(f"{exc} (skipped until the file changes)")
            files[path.name] = {"hash": digest, "error": True}
            continue
        # 2. Register it, record where it comes from, and request a plan run.
        seq += 1
        claimed[render] = path.name
        store.remember_source(render, path)
        scan.renders.append(render)
        scan.run_requests.append(
            RunRequest(
                job_name=plan_job.name,
                partition_key=render,
                run_key=f"{render}:{digest[:12]}:{seq}",
                tags={RENDER_TAG: render, TRIGGER_TAG: "prompt_folder_sensor"},
            )
        )
        files[path.name] = {"hash": digest, "render": render}
    for name in sorted(set(known) - set(files)):
        scan.notes.append(f"{folder / name}: removed — its render's outputs are kept")
    scan.cursor = {"seq": seq, "files": files}
    return scan


def build_prompt_folder_sensor(config: LongvidConfig) -> SensorDefinition:
    folder = Path(config.sensor.prompts_dir)
    store = config.resources["store"]

    @sensor(
        name="prompt_folder_sensor",
        job=plan_job,
        minimum_interval_seconds=config.sensor.interval_s,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"New or changed prompt files in {folder}/ are planned and rendered.",
    )
    def prompt_folder_sensor(context: SensorEvaluationContext):
        scan = scan_prompt_folder(folder, load_cursor(context.cursor), store)
        for message in scan.messages:
            context.log.warning(message)
        for note in scan.notes:
            context.log.info(note)
        instance = context.instance
        new = [r for r in scan.renders if not instance.has_dynamic_partition("renders", r)]
        additions = [renders_partitions.build_add_request(new)] if new else []
        return SensorResult(
            run_requests=scan.run_requests,
            dynamic_partitions_requests=additions,
            cursor=json.dumps(scan.cursor, sort_keys=True),
        )

    return prompt_folder_sensor


# ---------------------------------------------------------------------------- 2. plans


@dataclass
class PlanFollowUp:
    run_requests: list[RunRequest] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    cursor: dict = field(default_factory=dict)


def latest_plan_id(instance: DagsterInstance, render: str) -> int | None:
    latest = instance.get_latest_storage_id_by_partition(
        AssetKey("segment_plan"), DagsterEventType.ASSET_MATERIALIZATION, {render}
    )
    return latest.get(render)


def render_busy(instance: DagsterInstance, render: str) -> bool:
    """Whether any run of this render (plan, segment, render-level, CLI) is unfinished."""
    runs = instance.get_run_records(
        RunsFilter(tags={RENDER_TAG: render}, statuses=UNFINISHED), limit=1
    )
    return bool(runs)


def follow_plans(instance: DagsterInstance, resources: dict, cursor: dict) -> PlanFollowUp:
    """One tick: take new plan materializations, then advance each pending render.

    Cursor: {"after": storage id, "pending": {render: {"plan": storage id, "fingerprint":
    plan fingerprint, "requested": bool}}}.
    """
    after = int(cursor.get("after", 0))
    pending: dict[str, dict] = dict(cursor.get("pending", {}))
    out = PlanFollowUp()
    # 1. New plans: the latest one per render wins; `longvid render` drives its own.
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("segment_plan"), after_storage_id=after),
        limit=PLAN_BATCH,
        ascending=True,
    ).records
    for record in records:
        after = record.storage_id
        mat = record.asset_materialization
        run = instance.get_run_by_id(record.run_id)
        if mat is None or mat.partition is None or (run and run.tags.get(DRIVER_TAG)):
            continue
        fp = mat.metadata.get("fingerprint")
        pending[mat.partition] = {
            "plan": record.storage_id,
            "fingerprint": str(fp.value) if fp is not None else "",
            "requested": False,
        }
    # 2. Each pending render whose runs are all done: request what is still stale.
    for render in sorted(pending):
        entry = pending[render]
        if latest_plan_id(instance, render) != entry["plan"]:
            del pending[render]  # a newer plan exists; whoever made it follows it
            continue
        if render_busy(instance, render):
            continue
        del pending[render]
        try:
            plan = read_plan(resources["store"], entry["fingerprint"])
        except (OSError, ValueError) as exc:
            out.messages.append(
                f"render '{render}': cannot read its plan ({exc}) — materialize segment_plan again"
            )
            continue
        staleness = assess_render(plan, resources, instance)
        tags = {
            RENDER_TAG: render,
            PLAN_TAG: str(entry["plan"]),
            TRIGGER_TAG: "stale_segments_sensor",
        }
        todo = next_runs(staleness, segments_ran=entry["requested"])
        if todo.segments:
            keys = ", ".join(spec.segment for spec in todo.segments)
            if entry["requested"]:
                out.messages.append(
                    f"render '{render}': segments {keys} are still stale after their runs — "
                    "see those runs' errors; fix the cause, then save the prompt file again "
                    "or run `longvid rerender`"
                )
                continue
            out.messages.append(f"render '{render}': requested stale segments {keys}")
            pending[render] = {**entry, "requested": True}
        out.run_requests += [spec.run_request(tags, entry["plan"]) for spec in todo.all]
    out.cursor = {"after": after, "pending": pending}
    return out


def build_stale_segments_sensor(config: LongvidConfig) -> SensorDefinition:
    resources = config.resources

    @sensor(
        name="stale_segments_sensor",
        jobs=[segment_job, render_job],
        minimum_interval_seconds=config.sensor.interval_s,
        default_status=DefaultSensorStatus.RUNNING,
        description="After a plan materializes: its stale segments, then the render-level assets.",
    )
    def stale_segments_sensor(context: SensorEvaluationContext):
        for run_id in fail_dead_runs(context.instance):  # else their render looks busy forever
            context.log.warning(f"run {run_id}: its longvid process died; marked failed")
        step = follow_plans(context.instance, resources, load_cursor(context.cursor))
        for message in step.messages:
            context.log.info(message)
        return SensorResult(run_requests=step.run_requests, cursor=json.dumps(step.cursor))

    return stale_segments_sensor


def build_sensors(config: LongvidConfig) -> list[SensorDefinition]:
    return [build_prompt_folder_sensor(config), build_stale_segments_sensor(config)]
