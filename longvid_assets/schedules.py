"""The re-render schedule: daily by default, it re-renders whatever is stale.

A config change (resolution, backend, model) or a code change (a stage's code version)
changes fingerprints without touching any prompt file, so no sensor notices it. Each tick
checks every registered render (`staleness.stale_renders`) and requests a `plan_job` run for
each stale one; `stale_segments_sensor` then requests its stale segments and render-level
assets as for any new plan. Renders whose prompt file is gone are left as they are.
By hand, without the daemon: `longvid rerender`.
"""

from dagster import (
    DagsterInvalidDefinitionError,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from longvid_assets.config import LongvidConfig
from longvid_assets.errors import ConfigError
from longvid_assets.jobs import RENDER_TAG, TRIGGER_TAG, plan_job
from longvid_assets.staleness import stale_renders


def build_rerender_schedule(config: LongvidConfig) -> ScheduleDefinition:
    resources, prompts_dir = config.resources, config.sensor.prompts_dir

    def rerender_stale_schedule(context: ScheduleEvaluationContext):
        stale, problems = stale_renders(context.instance, resources, prompts_dir)
        for problem in problems:
            context.log.warning(f"{problem} (left as it is)")
        if not stale:
            return SkipReason("every render is up to date")
        when = context.scheduled_execution_time
        tick = when.isoformat() if when else ""
        requests = []
        for item in stale:
            context.log.info(f"render '{item.render}' is stale: {item.reason}")
            requests.append(
                RunRequest(
                    partition_key=item.render,
                    run_key=f"{item.render}:{tick}",
                    tags={RENDER_TAG: item.render, TRIGGER_TAG: "rerender_stale_schedule"},
                )
            )
        return requests

    try:
        return schedule(
            cron_schedule=config.schedule.cron,
            job=plan_job,
            name="rerender_stale_schedule",
            execution_timezone=config.schedule.timezone,
            default_status=DefaultScheduleStatus.RUNNING,
            description="Re-render whatever a config or code change left stale.",
        )(rerender_stale_schedule)
    except DagsterInvalidDefinitionError as exc:
        raise ConfigError(f"{config.path}: schedule: {str(exc).splitlines()[0]}") from None


def build_schedules(config: LongvidConfig) -> list[ScheduleDefinition]:
    return [build_rerender_schedule(config)]
