"""No phantom partitions: Dagster's `segments` set is shared by every render, so a short
render has partitions past its plan once a longer render exists. They are never missing
work, and materializing them (a backfill, "materialize all") succeeds and says why."""

from dagster import AssetKey, materialize

from longvid_assets.definitions import ALL_ASSETS
from longvid_assets.partitions import render_segment_partitions, segment_partition_key
from longvid_assets.render import render_prompt_file

SHORT = """\
title: Short
resolution: [96, 64]
fps: 8
music: none
segments:
  - {prompt: A fox in snow., narration: A fox., duration: 3}
  - {prompt: A crow on a wire., narration: A crow., duration: 3}
"""
LONG = SHORT.replace("title: Short", "title: Long") + (
    "  - {prompt: A boat at dawn., narration: A boat., duration: 3}\n"
    "  - {prompt: A city at night., narration: Lights., duration: 3}\n"
)
SEGMENT_ASSETS = ["keyframe_images", "segment_clips", "clip_captions"]


def test_partitions_past_a_plan_are_never_missing_and_materialize_cleanly(tmp_path, longvid_env):
    config, instance, _ = longvid_env
    for name, text in (("short", SHORT), ("long", LONG)):
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
        render_prompt_file(tmp_path / f"{name}.yaml", config, instance)

    # 1. Every partition of every per-segment asset is materialized: real work for the
    #    plan's segments, an "in_plan: false" record for short|002 and short|003.
    every = set(render_segment_partitions.get_partition_keys(dynamic_partitions_store=instance))
    assert len(every) == 2 * 4
    for asset in SEGMENT_ASSETS:
        assert instance.get_materialized_partitions(AssetKey(asset)) == every, asset
    records = instance.fetch_materializations(AssetKey("segment_clips"), limit=100).records
    latest = {}
    for record in sorted(records, key=lambda r: r.storage_id):
        latest[record.asset_materialization.partition] = record.asset_materialization
    phantom = latest[str(segment_partition_key("short", "003"))]
    assert phantom.metadata["in_plan"].value is False
    assert "has 2 segments" in phantom.metadata["note"].value
    assert latest[str(segment_partition_key("long", "003"))].metadata["cached"].value is False

    # 2. Running a phantom partition (what a backfill over all partitions does) succeeds,
    #    makes nothing, and its checks say there was nothing to check.
    result = materialize(
        ALL_ASSETS,
        selection=SEGMENT_ASSETS,
        partition_key=segment_partition_key("short", "002"),
        instance=instance,
        resources=config.resources,
    )
    assert result.success
    for asset in SEGMENT_ASSETS:
        (mat,) = result.asset_materializations_for_node(asset)
        assert mat.metadata["in_plan"].value is False
    checks = result.get_asset_check_evaluations()
    assert len(checks) == 3 and all("nothing to check" in c.metadata["note"].value for c in checks)
