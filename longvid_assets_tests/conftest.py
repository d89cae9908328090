import pytest

from longvid_assets_tests.openai_server import OpenAIServer


@pytest.fixture
def openai_server():
    """A local fake OpenAI server (see `openai_server.py`); shut down after the test."""
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def longvid_env(tmp_path, monkeypatch):
    """A temporary DAGSTER_HOME and Dagster instance, and the default (embedded) config
    with its artifact store under the temp dir. Yields (config, instance, store_root)."""
    from dagster import instance_for_test

    from longvid_assets.config import load_config
    from longvid_assets.resources.store import LocalArtifactStore

    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    config = load_config("default")
    store_root = tmp_path / "store"
    config.resources["store"] = LocalArtifactStore(root=str(store_root))
    with instance_for_test(temp_dir=str(home)) as instance:
        yield config, instance, store_root
