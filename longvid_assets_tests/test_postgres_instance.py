"""configs/instance/postgres.yaml on a real PostgreSQL: a render's runs and materializations
land in Postgres, and the MP4 comes out as with the default instance."""

import shutil
import sys
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance

from longvid_assets.media.probe import probe
from longvid_assets_tests.cluster_services import postgres_server
from longvid_assets_tests.rerun_helpers import tiny_prompt, write_prompt

ROOT = Path(__file__).resolve().parent.parent
INSTANCE_FILE = ROOT / "configs" / "instance" / "postgres.yaml"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PostgreSQL 15 from /usr/lib")
def test_render_records_runs_and_materializations_in_postgres(tmp_path, monkeypatch):
    pytest.importorskip("dagster_postgres")
    from dagster_postgres import PostgresRunStorage

    from longvid_assets.config import load_config
    from longvid_assets.render import render_prompt_file
    from longvid_assets.resources.store import LocalArtifactStore

    with postgres_server() as pg:
        # 1. The instance file as a user would install it, credentials from the environment.
        for name, value in {
            "LONGVID_PG_USER": pg.user,
            "LONGVID_PG_PASSWORD": pg.password,
            "LONGVID_PG_HOST": pg.host,
            "LONGVID_PG_PORT": str(pg.port),
            "LONGVID_PG_DB": pg.db,
        }.items():
            monkeypatch.setenv(name, value)
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copyfile(INSTANCE_FILE, home / "dagster.yaml")
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        # 2. The embedded default config with its store under the temp dir (as `longvid_env`).
        config = load_config("default")
        config.resources["store"] = LocalArtifactStore(root=str(tmp_path / "store"))
        prompt = write_prompt(tmp_path / "walk.yaml", tiny_prompt(2))

        with DagsterInstance.get() as instance:
            assert isinstance(instance.run_storage, PostgresRunStorage)
            outcome = render_prompt_file(prompt, config, instance, log_level="WARNING")
            finals = instance.fetch_materializations(AssetKey("final_video"), limit=5).records

        # 3. What Postgres itself holds: every run of the render, and its materializations.
        conn = pg.connect()
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT run_id, status FROM runs")
                runs = dict(cursor.fetchall())
                cursor.execute(
                    "SELECT count(*) FROM event_logs "
                    "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
                )
                materializations = cursor.fetchone()[0]
        finally:
            conn.close()

    assert set(outcome.run_ids) <= set(runs), (outcome.run_ids, runs)
    assert runs and all(status == "SUCCESS" for status in runs.values()), runs
    # plan + 2 × (keyframes, clip, captions) + audio + final
    assert materializations >= 9, materializations
    assert len(finals) == 1
    info = probe(Path(outcome.final.published))  # the local store publishes a path
    assert info.video_codec == "h264" and info.frames > 0, info  # probe decodes every frame
    assert abs(info.duration_s - 4.0) <= 0.2, info
