import pytest

from longvid_assets_tests.openai_server import OpenAIServer


@pytest.fixture
def openai_server():
    """A local fake OpenAI server (see `openai_server.py`); shut down after the test."""
    with OpenAIServer() as server:
        yield server
