"""segment_plan [render]: the prompt file split into timed segments with keyframes."""

from pathlib import Path

from dagster import AssetExecutionContext, DataVersion, MetadataValue, Output, asset

from longvid_assets.assets.common import Timer, stage_metadata, user_errors
from longvid_assets.errors import PromptFileError
from longvid_assets.fingerprint import CODE_VERSIONS, plan_fp
from longvid_assets.partitions import register_render, renders_partitions
from longvid_assets.plan import RenderDefaults, RenderPlan, build_plan, drafts_from_spec
from longvid_assets.prompts import PromptSpec, load_prompt_file
from longvid_assets.resources.planner import Planner
from longvid_assets.resources.settings import LongvidSettings
from longvid_assets.resources.store import ArtifactStore
from longvid_assets.sources import find_prompt_file

PLAN_FILE = "plan.json"


def make_plan(
    spec: PromptSpec, render: str, source: Path, planner: Planner, defaults: RenderDefaults
) -> RenderPlan:
    """Explicit `segments:` in the file win; otherwise the planner splits the prompt."""
    if spec.segments:
        drafts, suggested_mood, made_by = drafts_from_spec(spec), "calm", "explicit segments"
    else:
        draft = planner.plan(spec, defaults)
        drafts, suggested_mood, made_by = draft.segments, draft.music_mood, planner.made_by()
        if draft.title and not spec.title:
            spec = spec.model_copy(update={"title": draft.title})
    music = spec.music or defaults.music
    return build_plan(
        spec,
        drafts,
        render=render,
        source=source.name,  # where it lives on this host is recorded by the store
        planner=made_by,
        defaults=defaults,
        music_mood=suggested_mood if music == "auto" else music,
    )


@asset(
    partitions_def=renders_partitions,
    code_version=CODE_VERSIONS["segment_plan"],
    group_name="longvid",
    kinds={"python"},
)
def segment_plan(
    context: AssetExecutionContext,
    settings: LongvidSettings,
    planner: Planner,
    store: ArtifactStore,
) -> Output[RenderPlan]:
    """Segments with keyframe descriptions, narration, duration and seed, from the prompt file."""
    timer, render = Timer(), context.partition_key
    with user_errors():
        # 1. Find and validate the prompt file.
        source = find_prompt_file(render, store, settings.prompts_dir)
        spec = load_prompt_file(source)
        # 2. Reuse the plan made from the same file, planner and defaults; else plan.
        fp = plan_fp(
            spec.model_dump(mode="json"), render, planner.identity(), settings.render.model_dump()
        )
        cached = store.has("plans", fp, PLAN_FILE)
        if cached:
            text = store.artifact_path("plans", fp, PLAN_FILE).read_text(encoding="utf-8")
            plan = RenderPlan.model_validate_json(text)
        else:
            try:
                plan = make_plan(spec, render, source, planner, settings.render)
            except ValueError as exc:  # inconsistent explicit segments
                fix = "fix the segments in the prompt file"
                raise PromptFileError(source, str(exc).splitlines()[0], fix) from None
            with store.writing("plans", fp, PLAN_FILE) as tmp:
                tmp.write_text(plan.model_dump_json(indent=2), encoding="utf-8")
    # 3. The render's segment partitions exist from now on.
    register_render(context.instance, render, len(plan.segments))
    table = "\n".join(
        f"| {s.key} | {s.duration_s:.2f} | {s.narration[:80]} |" for s in plan.segments
    )
    metadata = stage_metadata(
        planner,
        fp,
        cached,
        timer,
        artifact=str(store.artifact_path("plans", fp, PLAN_FILE)),
        prompt_file=str(source),
        planner_used=plan.planner,
        segments=len(plan.segments),
        duration_s=round(plan.duration_s, 3),
        resolution=f"{plan.resolution[0]}x{plan.resolution[1]}",
        fps=plan.fps,
        seed=plan.seed,
        music_mood=plan.music_mood,
        preview=MetadataValue.md("| segment | seconds | narration |\n|---|---|---|\n" + table),
    )
    return Output(plan, data_version=DataVersion(fp), metadata=metadata)
