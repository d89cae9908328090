"""Partitions: one `render` per prompt file × zero-padded `segment` indices.

Dagster's dynamic partition sets are global per name, so every render shares the
`segments` set: once a render of 6 segments exists, a render of 4 also has partitions 004
and 005. Those are never missing work: when a plan is made, and when a longer render adds
segment keys, every partition a render's plan does not have gets a materialization that
says so (`in_plan: false`, data version `not-in-plan`), and the per-segment assets yield the
same for them if a backfill or "materialize all" runs them. Keys read "render|segment"
(dimensions sort by name).
"""

from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetRecordsFilter,
    DagsterInstance,
    DynamicPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    MultiToSingleDimensionPartitionMapping,
)

from longvid_assets.plan import segment_key
from longvid_assets.versions import DATA_VERSION_TAG, recorded_versions

renders_partitions = DynamicPartitionsDefinition(name="renders")
segments_partitions = DynamicPartitionsDefinition(name="segments")
render_segment_partitions = MultiPartitionsDefinition(
    {"render": renders_partitions, "segment": segments_partitions}
)
# A per-segment asset reads its render's plan; a render-level asset reads all its segments.
by_render = MultiToSingleDimensionPartitionMapping(partition_dimension_name="render")


SEGMENT_ASSETS = ("keyframe_images", "segment_clips", "clip_captions")
NOT_IN_PLAN = "not-in-plan"


def register_render(instance: DagsterInstance, render: str, segment_count: int = 0) -> None:
    """Add the render key and any missing segment keys up to `segment_count`; with a plan
    (`segment_count` > 0), mark the partitions outside every planned render's plan."""
    if not instance.has_dynamic_partition("renders", render):
        instance.add_dynamic_partitions("renders", [render])
    existing = set(instance.get_dynamic_partitions("segments"))
    missing = [segment_key(i) for i in range(segment_count) if segment_key(i) not in existing]
    if missing:
        instance.add_dynamic_partitions("segments", missing)
    if not segment_count:
        return
    keys = sorted(existing | set(missing))
    mark_outside_plan(instance, render, segment_count, keys)
    for other in instance.get_dynamic_partitions("renders"):
        count = planned_segments(instance, other) if missing and other != render else None
        if count is not None:
            mark_outside_plan(instance, other, count, missing)


def planned_segments(instance: DagsterInstance, render: str) -> int | None:
    """How many segments the render's latest plan has (None: never planned)."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("segment_plan"), asset_partitions=[render]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return None
    value = records[0].asset_materialization.metadata.get("segments")
    return int(value.value) if value is not None else None


def mark_outside_plan(instance: DagsterInstance, render: str, count: int, keys) -> None:
    """Record "not in this render's plan" for its partitions at or past `count`, unless
    their latest materialization already says so."""
    outside = [str(segment_partition_key(render, k)) for k in keys if int(k) >= count]
    if not outside:
        return
    note = f"render '{render}' has {count} segments"
    for asset in SEGMENT_ASSETS:
        recorded = recorded_versions(instance, asset, outside)
        for partition in outside:
            if recorded[partition] == NOT_IN_PLAN:
                continue
            instance.report_runless_asset_event(
                AssetMaterialization(
                    asset_key=asset,
                    partition=partition,
                    metadata={"in_plan": False, "note": note},
                    tags={DATA_VERSION_TAG: NOT_IN_PLAN},
                )
            )


def segment_partition_key(render: str, segment: str) -> MultiPartitionKey:
    return MultiPartitionKey({"render": render, "segment": segment})


def split_key(context) -> tuple[str, int]:
    """(render, segment index) of a per-segment asset's partition."""
    keys = context.partition_key.keys_by_dimension
    return keys["render"], int(keys["segment"])
