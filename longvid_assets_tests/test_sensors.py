"""Layer 4: the prompt-folder sensor, the plan→segments sensor and the re-render schedule,
evaluated with `build_sensor_context` / `build_schedule_context` against a real temporary
instance; the runs they request are executed in-process, as the daemon would launch them."""

import datetime
from pathlib import Path

import pytest
from dagster import SkipReason, build_schedule_context, build_sensor_context, materialize

from longvid_assets.definitions import ALL_ASSETS, build_definitions
from longvid_assets.errors import ConfigError
from longvid_assets.jobs import DRIVER_TAG, RENDER_TAG
from longvid_assets.prompts import render_name
from longvid_assets.render import render_prompt_file
from longvid_assets.resources.settings import LongvidSettings
from longvid_assets.resources.video import AnimaticVideoGenerator
from longvid_assets.schedules import build_rerender_schedule
from longvid_assets.sensors import (
    build_prompt_folder_sensor,
    build_stale_segments_sensor,
    scan_prompt_folder,
)
from longvid_assets_tests.rerun_helpers import tiny_prompt, write_prompt

JOB_SELECTION = {
    "plan_job": ["segment_plan"],
    "segment_job": ["keyframe_images", "segment_clips", "clip_captions"],
    "render_job": ["audio_tracks", "final_video"],
}


def watch(config, folder: Path):
    config.sensor.prompts_dir = str(folder)
    settings = config.resources["settings"]
    config.resources["settings"] = LongvidSettings(
        config_name=settings.config_name, render=settings.render, prompts_dir=str(folder)
    )
    return build_prompt_folder_sensor(config), build_stale_segments_sensor(config)


def tick(sensor_def, instance, cursor):
    """Evaluate a sensor once; (run requests, new cursor)."""
    result = sensor_def(build_sensor_context(instance=instance, cursor=cursor))
    return list(result.run_requests or []), result.cursor


def execute(request, config, instance):
    """Run what a RunRequest asks for, in-process, with its tags (as the daemon would)."""
    if request.asset_selection:
        selection = [key.to_user_string() for key in request.asset_selection]
    else:
        selection = JOB_SELECTION[request.job_name]
    result = materialize(
        ALL_ASSETS,
        selection=selection,
        partition_key=request.partition_key,
        instance=instance,
        resources=config.resources,
        tags=request.tags,
    )
    assert result.success
    return result


def test_definitions_include_sensors_and_schedule(longvid_env):
    config, _, _ = longvid_env
    defs = build_definitions(config)
    assert defs.resolve_sensor_def("prompt_folder_sensor").minimum_interval_seconds == 15
    follow_up = defs.resolve_sensor_def("stale_segments_sensor")
    assert sorted(job.name for job in follow_up.jobs) == ["render_job", "segment_job"]
    assert defs.resolve_schedule_def("rerender_stale_schedule").cron_schedule == "0 3 * * *"
    config.schedule.cron = "every morning"
    with pytest.raises(ConfigError, match=r"default\.yaml: schedule: .*every morning"):
        build_rerender_schedule(config)


def test_new_file_requests_a_plan_run_and_same_state_again_none(tmp_path, longvid_env):
    config, instance, _ = longvid_env
    folder = tmp_path / "prompts"
    folder.mkdir()
    folder_sensor, _ = watch(config, folder)
    assert tick(folder_sensor, instance, None)[0] == []

    # 1. A new file: its render is registered and planned.
    original = tiny_prompt(3)
    write_prompt(folder / "Night Walk.yaml", original)
    result = folder_sensor(build_sensor_context(instance=instance, cursor=None))
    (request,) = result.run_requests
    assert request.job_name == "plan_job"
    assert request.partition_key == render_name(folder / "Night Walk.yaml")
    assert request.tags[RENDER_TAG] == request.partition_key
    (additions,) = result.dynamic_partitions_requests
    assert list(additions.partition_keys) == [request.partition_key]
    # 2. The same state again, also from a freshly built sensor (a restarted daemon): none.
    assert tick(folder_sensor, instance, result.cursor)[0] == []
    assert tick(build_prompt_folder_sensor(config), instance, result.cursor)[0] == []
    # 3. Edited, then reverted: a request each time, never a reused run key.
    write_prompt(folder / "Night Walk.yaml", tiny_prompt(3, "!"))
    (edited,), cursor = tick(folder_sensor, instance, result.cursor)
    write_prompt(folder / "Night Walk.yaml", original)
    (reverted,), cursor = tick(folder_sensor, instance, cursor)
    assert len({request.run_key, edited.run_key, reverted.run_key}) == 3
    assert tick(folder_sensor, instance, cursor)[0] == []


def test_malformed_file_is_skipped_with_one_message_per_change(tmp_path, longvid_env):
    config, instance, _ = longvid_env
    folder = tmp_path / "prompts"
    folder.mkdir()
    folder_sensor, _ = watch(config, folder)
    bad = folder / "bad.yaml"
    bad.write_text("prompt: A storm.\nfps: 500\n", encoding="utf-8")
    write_prompt(folder / "good.yaml", tiny_prompt(2))
    store = config.resources["store"]

    # 1. The bad file logs one clear line; the good one is requested all the same.
    scan = scan_prompt_folder(folder, {}, store)
    assert [r.partition_key for r in scan.run_requests] == ["good"]
    (message,) = scan.messages
    assert message.startswith(f"{bad}: field 'fps': ")
    assert message.endswith("(skipped until the file changes)") and "\n" not in message
    requests, cursor = tick(folder_sensor, instance, None)
    assert [r.partition_key for r in requests] == ["good"]
    # 2. Next ticks: silent, nothing requested.
    rescan = scan_prompt_folder(folder, scan.cursor, store)
    assert rescan.messages == [] and rescan.run_requests == []
    assert tick(folder_sensor, instance, cursor)[0] == []
    # 3. Another broken version: one new line; fixed: a plan request.
    bad.write_text("prompt: A storm.\nfps: [1, 2\n", encoding="utf-8")
    again = scan_prompt_folder(folder, rescan.cursor, store)
    assert len(again.messages) == 1 and "YAML syntax error" in again.messages[0]
    bad.write_text("prompt: A storm over the sea.\nfps: 8\n", encoding="utf-8")
    fixed = scan_prompt_folder(folder, again.cursor, store)
    assert [r.partition_key for r in fixed.run_requests] == ["bad"] and fixed.messages == []
    # 4. A second file for the same render name is refused, the first one keeps it.
    (folder / "a_good.txt").write_text("A storm.", encoding="utf-8")
    (folder / "good.txt").write_text("A storm.", encoding="utf-8")
    clash = scan_prompt_folder(folder, fixed.cursor, store)
    assert [r.partition_key for r in clash.run_requests] == ["a_good"]
    assert clash.messages == [
        f"{folder / 'good.txt'}: render name 'good' is taken by good.yaml — rename one file "
        "(skipped until the file changes)"
    ]


def test_edited_file_requests_only_changed_partitions(tmp_path, longvid_env):
    config, instance, store_root = longvid_env
    folder = tmp_path / "prompts"
    folder.mkdir()
    folder_sensor, plan_sensor = watch(config, folder)
    prompt = write_prompt(folder / "meadow.yaml", tiny_prompt(4))
    # A render made by `longvid render`: its plan runs drive themselves (no sensor follow-up).
    first = render_prompt_file(prompt, config, instance)
    requests, plan_cursor = tick(plan_sensor, instance, None)
    assert requests == []

    # 1. The folder sensor sees the file for the first time: one plan run; the plan is
    #    unchanged, so the plan sensor requests nothing after it.
    (plan_request,), folder_cursor = tick(folder_sensor, instance, None)
    run = execute(plan_request, config, instance)
    assert DRIVER_TAG not in instance.get_run_by_id(run.run_id).tags
    requests, plan_cursor = tick(plan_sensor, instance, plan_cursor)
    assert requests == []

    # 2. Edit one segment's prompt: a plan run, then exactly that partition's stale stages.
    write_prompt(prompt, tiny_prompt(4, **{"2_prompt": "A deer drinks at a pond, scene 3."}))
    (plan_request,), folder_cursor = tick(folder_sensor, instance, folder_cursor)
    assert tick(folder_sensor, instance, folder_cursor)[0] == []
    execute(plan_request, config, instance)
    (segment_request,), plan_cursor = tick(plan_sensor, instance, plan_cursor)
    assert segment_request.job_name == "segment_job"
    assert str(segment_request.partition_key) == "meadow|002"
    assert [k.to_user_string() for k in segment_request.asset_selection] == [
        "segment_clips",
        "clip_captions",
    ]
    # 3. Once it ran: the render-level stage that changed, then nothing more.
    execute(segment_request, config, instance)
    (render_request,), plan_cursor = tick(plan_sensor, instance, plan_cursor)
    assert render_request.job_name == "render_job" and render_request.partition_key == "meadow"
    assert [k.to_user_string() for k in render_request.asset_selection] == ["final_video"]
    final = execute(render_request, config, instance).output_for_node("final_video")
    assert final.fingerprint != first.final.fingerprint
    assert tick(plan_sensor, instance, plan_cursor)[0] == []

    # 4. The schedule: nothing stale now; a config change (video backend) → a plan run.
    when = datetime.datetime(2026, 1, 1, 3, tzinfo=datetime.timezone.utc)
    schedule_def = build_rerender_schedule(config)
    context = build_schedule_context(instance=instance, scheduled_execution_time=when)
    assert isinstance(schedule_def(context), SkipReason)
    config.resources["video_generator"] = AnimaticVideoGenerator(zoom=0.2)
    schedule_def = build_rerender_schedule(config)
    context = build_schedule_context(instance=instance, scheduled_execution_time=when)
    (scheduled,) = schedule_def(context)
    assert scheduled.partition_key == "meadow" and schedule_def.job_name == "plan_job"

    # 5. Deleting the file requests nothing and keeps its outputs.
    prompt.unlink()
    requests, _ = tick(folder_sensor, instance, folder_cursor)
    assert (
        requests == []
        and Path(final.published).is_file()
        and Path(final.published).is_relative_to(store_root)
    )


CONFIGS = sorted(p.stem for p in (Path(__file__).parent.parent / "configs").glob("*.yaml"))


@pytest.mark.parametrize("config_name", CONFIGS)
def test_sensor_side_identities_match_run_side(config_name, monkeypatch):
    """Sensors and the schedule fingerprint with the config's resources as loaded (never set
    up: no model loads in the daemon); a run sees them initialized by Dagster, `EnvVar`s
    resolved. Both must give the same identities, or every partition would look stale."""
    from dagster import asset, instance_for_test

    from longvid_assets.config import load_config
    from longvid_assets.staleness import Identities

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    config = load_config(config_name)
    keys = [
        "planner",
        "image_generator",
        "video_generator",
        "captioner",
        "speech",
        "music",
        "mixer",
        "settings",
    ]
    seen = {}

    @asset(required_resource_keys=set(keys))
    def identities_in_a_run(context):
        seen["run"] = Identities.of({key: getattr(context.resources, key) for key in keys})

    with instance_for_test() as instance:
        assert materialize(
            [identities_in_a_run], resources=config.resources, instance=instance
        ).success
    assert seen["run"] == Identities.of(config.resources)
