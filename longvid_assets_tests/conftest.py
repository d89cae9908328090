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


# Tiny random-weight transformers models (see tiny_transformers_models.py), built once.
@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory):
    from longvid_assets_tests.tiny_transformers_models import build_tiny_llava

    return build_tiny_llava(tmp_path_factory.mktemp("tiny-llava"))


@pytest.fixture(scope="session")
def tiny_bark(tmp_path_factory):
    from longvid_assets_tests.tiny_transformers_models import build_tiny_bark

    return build_tiny_bark(tmp_path_factory.mktemp("tiny-bark"))


@pytest.fixture(scope="session")
def tiny_musicgen(tmp_path_factory):
    from longvid_assets_tests.tiny_transformers_models import build_tiny_musicgen

    return build_tiny_musicgen(tmp_path_factory.mktemp("tiny-musicgen"))


# Tiny random-weight diffusers pipelines (see tiny_models.py), built and saved once.
@pytest.fixture(scope="session")
def tiny_sd3(tmp_path_factory):
    from longvid_assets_tests.tiny_models import save_tiny_sd3

    return save_tiny_sd3(tmp_path_factory.mktemp("tiny-sd3"))


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory):
    from longvid_assets_tests.tiny_models import save_tiny_sd

    return save_tiny_sd(tmp_path_factory.mktemp("tiny-sd"))


@pytest.fixture(scope="session")
def tiny_wan(tmp_path_factory):
    from longvid_assets_tests.tiny_models import save_tiny_wan_flf2v

    return save_tiny_wan_flf2v(tmp_path_factory.mktemp("tiny-wan-flf2v"))


@pytest.fixture(scope="session")
def tiny_framepack(tmp_path_factory):
    from longvid_assets_tests.tiny_models import save_tiny_framepack

    return save_tiny_framepack(tmp_path_factory.mktemp("tiny-framepack"))
