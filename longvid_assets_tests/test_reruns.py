"""Reruns rebuild only stale segments: fingerprints decide; fresh partitions get no run."""

from dagster import AssetKey, materialize

from longvid_assets.definitions import ALL_ASSETS
from longvid_assets.render import render_prompt_file
from longvid_assets.resources import model_cache
from longvid_assets.resources.settings import LongvidSettings
from longvid_assets.resources.store import LocalArtifactStore
from longvid_assets.resources.video import AnimaticVideoGenerator
from longvid_assets.staleness import SEGMENT_STAGES, assess_plan, assess_render
from longvid_assets_tests.rerun_helpers import (
    count_generator_calls,
    differing_frames,
    tiny_prompt,
    write_prompt,
)


def final_artifact(store_root, fingerprint):
    return LocalArtifactStore(root=str(store_root)).artifact_path("final", fingerprint, "video.mp4")


def assert_only_segment_rebuilt(outcome, index: int, segments: int, stages: list[str]) -> None:
    """`stages` of segment `index` were built; every other partition is cached, no run."""
    key = f"{index:03d}"
    for stage in SEGMENT_STAGES:
        statuses = outcome.statuses[stage]
        assert set(statuses) == {f"{i:03d}" for i in range(segments)}, stage
        expected = "built" if stage in stages else "cached"
        assert statuses[key] == expected, (stage, statuses[key])
        others = {k: v for k, v in statuses.items() if k != key}
        assert set(others.values()) == {"cached"}, (stage, others)
        assert all((stage, k) in outcome.skipped for k in others), stage


def frame_range(plan, index: int) -> range:
    start = sum(plan.frame_count(i) for i in range(index))
    return range(start, start + plan.frame_count(index))


def test_one_segment_edit_rebuilds_only_that_segment(tmp_path, longvid_env, monkeypatch):
    config, instance, store_root = longvid_env
    prompt = write_prompt(tmp_path / "meadow.yaml", tiny_prompt(8))
    first = render_prompt_file(prompt, config, instance)
    assert first.built_steps > 0 and len(first.plan.segments) == 8
    assert assess_render(first.plan, config.resources, instance).up_to_date

    # 1. A middle segment's prompt: its clip and caption only (its keyframes are shared
    #    boundaries with its neighbours and unchanged, so they stay).
    calls = count_generator_calls(monkeypatch)
    write_prompt(prompt, tiny_prompt(8, **{"3_prompt": "A heron lands in the reeds, scene 4."}))
    second = render_prompt_file(prompt, config, instance)
    assert calls["video"] == 1 and calls["caption"] == 1, calls
    assert calls["image"] == 0 and calls["speech"] == 0, calls
    assert_only_segment_rebuilt(second, 3, 8, ["segment_clips", "clip_captions"])
    # Runs: plan, one segment, final_video (audio unchanged) — none for the seven others.
    assert len(second.run_ids) == 3
    assert second.statuses["audio_tracks"]["meadow"] == "cached"
    assert second.statuses["final_video"]["meadow"] == "built"
    changed = differing_frames(
        final_artifact(store_root, first.final.fingerprint),
        final_artifact(store_root, second.final.fingerprint),
    )
    inside = frame_range(second.plan, 3)
    assert changed and set(changed) <= set(inside), (changed, inside)

    # 2. The last segment's prompt also names its closing keyframe (not shared): each
    #    per-segment stage's generator runs exactly once, not 8 times.
    calls.clear()
    edited = {
        "3_prompt": "A heron lands in the reeds, scene 4.",
        "7_prompt": "A bear fishes in a cold river, scene 8.",
    }
    write_prompt(prompt, tiny_prompt(8, **edited))
    third = render_prompt_file(prompt, config, instance)
    assert calls["image"] == 1 and calls["video"] == 1 and calls["caption"] == 1, calls
    assert_only_segment_rebuilt(third, 7, 8, SEGMENT_STAGES)
    changed = differing_frames(
        final_artifact(store_root, second.final.fingerprint),
        final_artifact(store_root, third.final.fingerprint),
    )
    inside = frame_range(third.plan, 7)
    assert changed and set(changed) <= set(inside), (changed, inside)

    # 3. Dagster agrees: every partition's latest DataVersion is the expected fingerprint.
    assert assess_render(third.plan, config.resources, instance).up_to_date
    # 4. Unchanged file: no run at all.
    calls.clear()
    fourth = render_prompt_file(prompt, config, instance)
    assert fourth.run_ids == [] and fourth.built_steps == 0 and not calls
    assert fourth.final == third.final


def test_narration_only_edit_regenerates_narration_and_final(tmp_path, longvid_env, monkeypatch):
    config, instance, _ = longvid_env
    prompt = write_prompt(tmp_path / "voices.yaml", tiny_prompt(3))
    first = render_prompt_file(prompt, config, instance)

    calls = count_generator_calls(monkeypatch)
    write_prompt(prompt, tiny_prompt(3, **{"1_narration": "An owl, quiet and slow."}))
    second = render_prompt_file(prompt, config, instance)

    assert calls["image"] == 0 and calls["video"] == 0 and calls["caption"] == 0, calls
    assert calls["speech"] >= 1
    for stage in SEGMENT_STAGES:
        assert set(second.statuses[stage].values()) == {"cached"}, stage
    assert second.statuses["audio_tracks"]["voices"] == "built"
    assert second.statuses["final_video"]["voices"] == "built"
    assert len(second.run_ids) == 2  # plan + render-level; no segment run
    audio = instance.fetch_materializations(AssetKey("audio_tracks"), limit=1).records[0]
    assert audio.asset_materialization.metadata["narrations_synthesized"].value == 1
    assert second.final.fingerprint != first.final.fingerprint


def test_global_settings_make_every_segment_stale(tmp_path, longvid_env):
    config, instance, _ = longvid_env
    data = tiny_prompt(3)
    del data["resolution"], data["fps"]  # from the config's render defaults
    prompt = write_prompt(tmp_path / "globals.yaml", data)
    settings = config.resources["settings"]
    tiny = settings.render.model_copy(update={"resolution": [160, 96], "fps": 8})
    config.resources["settings"] = LongvidSettings(
        config_name=settings.config_name, render=tiny, prompts_dir=settings.prompts_dir
    )
    first = render_prompt_file(prompt, config, instance)
    assert assess_render(first.plan, config.resources, instance).up_to_date
    keys = {s.key for s in first.plan.segments}

    def replanned(resources) -> object:
        status = assess_plan(prompt, resources, instance)
        if status.fresh:
            return status.plan
        result = materialize(
            ALL_ASSETS,
            selection=["segment_plan"],
            partition_key="globals",
            instance=instance,
            resources=resources,
        )
        return result.output_for_node("segment_plan")

    # 1. Resolution (a config default): the plan changes and every segment's every stage.
    bigger = tiny.model_copy(update={"resolution": [192, 112]})
    resources = {**config.resources, "settings": LongvidSettings(render=bigger)}
    assert not assess_plan(prompt, resources, instance).fresh
    stale = assess_render(replanned(resources), resources, instance)
    assert set(stale.stale_segments) == keys
    assert all(stages == SEGMENT_STAGES for stages in stale.stale_segments.values())
    assert stale.stale_render_stages == ["final_video"]  # the audio does not depend on size

    # 2. The video backend's config: every clip and caption, no keyframe.
    resources = {**config.resources, "video_generator": AnimaticVideoGenerator(zoom=0.2)}
    stale = assess_render(first.plan, resources, instance)
    assert set(stale.stale_segments) == keys
    assert all(s == ["segment_clips", "clip_captions"] for s in stale.stale_segments.values())

    # 3. fps: every clip (frame counts), keyframes stay.
    faster = tiny.model_copy(update={"fps": 12})
    resources = {**config.resources, "settings": LongvidSettings(render=faster)}
    stale = assess_render(replanned(resources), resources, instance)
    assert set(stale.stale_segments) == keys
    assert all(s == ["segment_clips", "clip_captions"] for s in stale.stale_segments.values())


def test_models_load_once_per_run_whatever_the_segment_count(tmp_path, longvid_env):
    """The Piper voice loads once in a run that narrates 2 or 6 segments, and a second run
    in the same process reuses it (0 loads)."""
    config, instance, _ = longvid_env
    loads_per_run = {}
    for count in (2, 6):
        name = f"loads{count}"
        prompt = write_prompt(tmp_path / f"{name}.yaml", tiny_prompt(count, f" {name}"))
        config.resources["store"].remember_source(name, prompt)
        instance.add_dynamic_partitions("renders", [name])
        model_cache.release()
        before = model_cache.LOADS["piper"]
        result = materialize(
            ALL_ASSETS,
            selection=["segment_plan", "audio_tracks"],
            partition_key=name,
            instance=instance,
            resources=config.resources,
        )
        loads_per_run[count] = model_cache.LOADS["piper"] - before
        metadata = result.asset_materializations_for_node("audio_tracks")[0].metadata
        assert metadata["narrations_synthesized"].value == count
        assert metadata["model_loads"].value == 1
    assert loads_per_run == {2: 1, 6: 1}
    # A later run in the same process finds the voice loaded.
    prompt = write_prompt(tmp_path / "again.yaml", tiny_prompt(1, " again"))
    config.resources["store"].remember_source("again", prompt)
    instance.add_dynamic_partitions("renders", ["again"])
    result = materialize(
        ALL_ASSETS,
        selection=["segment_plan", "audio_tracks"],
        partition_key="again",
        instance=instance,
        resources=config.resources,
    )
    assert (
        result.asset_materializations_for_node("audio_tracks")[0].metadata["model_loads"].value == 0
    )
