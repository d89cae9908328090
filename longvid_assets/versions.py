"""What Dagster recorded: the data version of each partition's latest materialization."""

from dagster import AssetKey, AssetRecordsFilter, DagsterEventType, DagsterInstance

DATA_VERSION_TAG = "dagster/data_version"


def recorded_versions(
    instance: DagsterInstance, asset: str, partition_keys: list[str]
) -> dict[str, str | None]:
    """The DataVersion of the latest materialization of each partition (None: never made)."""
    key = AssetKey(asset)
    latest = instance.get_latest_storage_id_by_partition(
        key, DagsterEventType.ASSET_MATERIALIZATION, set(partition_keys)
    )
    versions: dict[str, str | None] = {p: None for p in partition_keys}
    if not latest:
        return versions
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, storage_ids=list(latest.values())), limit=len(latest)
    ).records
    for record in records:
        mat = record.asset_materialization
        if mat is not None and mat.partition in versions:
            versions[mat.partition] = mat.tags.get(DATA_VERSION_TAG) if mat.tags else None
    return versions
