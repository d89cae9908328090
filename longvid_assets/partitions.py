"""Partitions: one `render` per prompt file × zero-padded `segment` indices.

Dagster's dynamic partition sets are global per name, so every render shares the
`segments` set; a render never requests indices past its own plan. Keys read
"render|segment" (dimensions sort by name).
"""

from dagster import (
    DagsterInstance,
    DynamicPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    MultiToSingleDimensionPartitionMapping,
)

from longvid_assets.plan import segment_key

renders_partitions = DynamicPartitionsDefinition(name="renders")
segments_partitions = DynamicPartitionsDefinition(name="segments")
render_segment_partitions = MultiPartitionsDefinition(
    {"render": renders_partitions, "segment": segments_partitions}
)
# A per-segment asset reads its render's plan; a render-level asset reads all its segments.
by_render = MultiToSingleDimensionPartitionMapping(partition_dimension_name="render")


def register_render(instance: DagsterInstance, render: str, segment_count: int = 0) -> None:
    """Add the render key and any missing segment keys up to `segment_count`."""
    if not instance.has_dynamic_partition("renders", render):
        instance.add_dynamic_partitions("renders", [render])
    existing = set(instance.get_dynamic_partitions("segments"))
    missing = [segment_key(i) for i in range(segment_count) if segment_key(i) not in existing]
    if missing:
        instance.add_dynamic_partitions("segments", missing)


def segment_partition_key(render: str, segment: str) -> MultiPartitionKey:
    return MultiPartitionKey({"render": render, "segment": segment})


def split_key(context) -> tuple[str, int]:
    """(render, segment index) of a per-segment asset's partition."""
    keys = context.partition_key.keys_by_dimension
    return keys["render"], int(keys["segment"])
