"""OpenAIPlanner against a real local HTTP server speaking the OpenAI protocol."""

import json
import time
from typing import get_args

import pytest
from pydantic import ValidationError

from longvid_assets.embedded.scenes import MOODS
from longvid_assets.errors import BackendError
from longvid_assets.plan import RenderDefaults, RenderPlan, build_plan
from longvid_assets.prompts import PromptSpec
from longvid_assets.resources.openai_planner import OpenAIPlanner, PlannedVideo
from longvid_assets_tests.openai_server import unused_base_url

DEFAULTS = RenderDefaults()
SPEC = PromptSpec(prompt="A lighthouse keeper climbs to the lamp at dawn and watches a storm.")
API_KEY = "test-key"

REPLY = {
    "title": "The Keeper",
    "opening_keyframe": "A lighthouse at dawn, a small lit window",
    "segments": [
        {
            "prompt": "An old keeper climbs a spiral stair",
            "last_keyframe": "The keeper at the top of the stair, lamp behind him",
            "narration": "Every morning he climbs the hundred steps.",
            "duration_s": 4,
        },
        {
            "prompt": "Storm clouds roll in over the sea",
            "last_keyframe": "Black clouds over a white-capped sea",
            "narration": "Today the sky has other plans.",
            "duration_s": 5.5,
        },
    ],
    "music_mood": "Tense",
}


def make_planner(base_url: str, **overrides) -> OpenAIPlanner:
    settings = {"max_retries": 1, "timeout_s": 5, "http_retries": 0, **overrides}
    return OpenAIPlanner(base_url=base_url, api_key=API_KEY, model="test-model", **settings)


def test_invalid_json_is_retried_and_the_plan_is_right(openai_server):
    openai_server.reply_text("Sure! Here is your plan: {not json")
    openai_server.reply_json(REPLY)
    planner = make_planner(openai_server.base_url)

    draft = planner.plan(SPEC, DEFAULTS)

    requests = openai_server.requests_to()
    assert len(requests) == 2
    assert requests[0].body["model"] == "test-model"
    assert requests[0].body["response_format"] == {"type": "json_object"}
    # The retry shows the model its bad reply and the error.
    retry_messages = requests[1].body["messages"]
    assert retry_messages[-2] == {
        "role": "assistant",
        "content": "Sure! Here is your plan: {not json",
    }
    assert "Invalid JSON" in retry_messages[-1]["content"]
    assert draft.music_mood == "tense"
    assert [s.narration for s in draft.segments] == [
        "Every morning he climbs the hundred steps.",
        "Today the sky has other plans.",
    ]
    assert draft.segments[0].first_keyframe == "A lighthouse at dawn, a small lit window"
    assert draft.segments[1].first_keyframe is None
    assert [s.duration_s for s in draft.segments] == [4.0, 5.5]


def test_system_prompt_states_the_limits(openai_server):
    openai_server.reply_json(REPLY)
    make_planner(openai_server.base_url).plan(SPEC, DEFAULTS)
    body = openai_server.requests_to()[0].body
    system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
    assert "at most 28 words" in system and "from 3 to 12 seconds" in system
    assert "150 words per minute" in system and "in total" not in system
    assert user == SPEC.prompt
    assert body["temperature"] == 0.2


def test_reply_that_never_validates_raises_after_max_retries(openai_server):
    missing_segments = {key: value for key, value in REPLY.items() if key != "segments"}
    for _ in range(3):
        openai_server.reply_json(missing_segments)
    planner = make_planner(openai_server.base_url, max_retries=2)

    with pytest.raises(BackendError) as caught:
        planner.plan(SPEC, DEFAULTS)

    message = str(caught.value)
    assert len(openai_server.requests_to()) == 3
    assert "did not validate after 3 tries: segments: Field required" in message
    assert "\n" not in message and API_KEY not in message


def test_narration_too_long_for_a_segment_is_sent_back(openai_server):
    too_long = json.loads(json.dumps(REPLY))
    too_long["segments"][0]["narration"] = " ".join(["word"] * 40)
    openai_server.reply_json(too_long)
    openai_server.reply_json(REPLY)

    draft = make_planner(openai_server.base_url).plan(SPEC, DEFAULTS)

    assert len(draft.segments) == 2
    reask = openai_server.requests_to()[1].body["messages"][-1]["content"]
    assert "segment 0 narration has 40 words; at most 28 fit" in reask


def test_connection_refused_names_base_url():
    base_url = unused_base_url()
    planner = make_planner(base_url)

    start = time.perf_counter()
    with pytest.raises(BackendError) as caught:
        planner.plan(SPEC, DEFAULTS)

    message = str(caught.value)
    assert message.startswith(f"cannot reach {base_url}: ")
    assert "Connection refused" in message
    assert message.endswith("start the server or fix planner.base_url")
    assert "\n" not in message and API_KEY not in message
    assert time.perf_counter() - start < 5


def test_api_key_is_the_bearer_token_and_never_in_errors(openai_server):
    openai_server.reply_error(401, f"Incorrect API key provided: {API_KEY}", code="invalid_api_key")
    planner = make_planner(openai_server.base_url)

    with pytest.raises(BackendError) as caught:
        planner.plan(SPEC, DEFAULTS)

    assert openai_server.requests_to()[0].bearer == API_KEY
    message = str(caught.value)
    assert "HTTP 401" in message and "set OPENAI_API_KEY" in message
    assert API_KEY not in message and "\n" not in message
    assert API_KEY not in repr(planner.identity())
    # Raised outside the `except`: no chained exception carries the server's body.
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_other_http_errors_name_status_and_fix(openai_server):
    openai_server.reply_error(404, "The model `test-model` does not exist", code="model_not_found")
    with pytest.raises(BackendError, match=r"HTTP 404: The model `test-model` does not exist — "):
        make_planner(openai_server.base_url).plan(SPEC, DEFAULTS)


def test_build_plan_on_the_result_is_a_valid_render_plan(openai_server):
    openai_server.reply_json(REPLY)
    draft = make_planner(openai_server.base_url).plan(SPEC, DEFAULTS)

    plan = build_plan(
        SPEC,
        draft.segments,
        render="keeper",
        source="prompts/keeper.yaml",
        planner="openai",
        defaults=DEFAULTS,
        music_mood=draft.music_mood,
    )

    assert isinstance(plan, RenderPlan)
    assert [s.duration_s for s in plan.segments] == [4.0, 5.5]
    assert plan.segments[0].first_keyframe == REPLY["opening_keyframe"]
    assert plan.segments[1].first_keyframe == REPLY["segments"][0]["last_keyframe"]
    assert plan.music_mood == "tense"


def test_target_duration_is_requested_and_met(openai_server):
    openai_server.reply_json(REPLY)
    spec = PromptSpec(prompt=SPEC.prompt, duration=19)
    draft = make_planner(openai_server.base_url).plan(spec, DEFAULTS)

    system = openai_server.requests_to()[0].body["messages"][0]["content"]
    assert "must last 19 seconds in total" in system
    assert sum(s.duration_s for s in draft.segments) == pytest.approx(19)


def test_durations_are_fitted_to_narration_and_limits(openai_server):
    reply = json.loads(json.dumps(REPLY))
    reply["segments"][0]["duration_s"] = 1  # too short for its words and under min_segment_s
    reply["segments"][1]["duration_s"] = 60  # over max_segment_s
    openai_server.reply_json(reply)
    draft = make_planner(openai_server.base_url).plan(SPEC, DEFAULTS)
    assert [s.duration_s for s in draft.segments] == [pytest.approx(3.6), 12.0]


@pytest.mark.parametrize("mode", ["tools", "md_json"])
def test_other_instructor_modes(openai_server, mode):
    if mode == "tools":
        openai_server.reply_tool_call(REPLY)
    else:
        openai_server.reply_text(f"Here it is:\n```json\n{json.dumps(REPLY)}\n```")
    draft = make_planner(openai_server.base_url, mode=mode).plan(SPEC, DEFAULTS)
    assert len(draft.segments) == 2
    body = openai_server.requests_to()[0].body
    if mode == "tools":
        assert body["tool_choice"]["function"]["name"] == body["tools"][0]["function"]["name"]


def test_bad_settings_name_the_value_and_fix():
    with pytest.raises(ValidationError, match=r"planner.mode 'xml' .* json, tools, md_json"):
        OpenAIPlanner(api_key=API_KEY, mode="xml")
    with pytest.raises(ValidationError, match=r"planner.base_url 'localhost:8000' .* http"):
        OpenAIPlanner(api_key=API_KEY, base_url="localhost:8000")


def test_client_is_created_once_and_secrets_stay_out_of_identity(openai_server):
    planner = make_planner(openai_server.base_url)
    assert planner.client() is planner.client()
    identity = planner.identity()
    assert identity["backend"] == "openai" and identity["model"] == "test-model"
    assert {"api_key", "timeout_s", "max_retries", "http_retries"}.isdisjoint(identity)


def test_response_model_schema_is_plain_json():
    schema = PlannedVideo.model_json_schema()
    assert set(schema["required"]) == {"title", "opening_keyframe", "segments", "music_mood"}
    mood_type = PlannedVideo.model_fields["music_mood"].annotation
    assert get_args(mood_type) == MOODS


def test_runs_as_a_dagster_resource_with_the_key_from_env(openai_server, monkeypatch):
    from dagster import EnvVar, asset, materialize

    from longvid_assets.resources.planner import Planner

    @asset
    def planned(planner: Planner) -> int:
        return len(planner.plan(SPEC, DEFAULTS).segments)

    monkeypatch.setenv("OPENAI_API_KEY", "env-key")
    openai_server.reply_json(REPLY)
    resource = OpenAIPlanner(
        base_url=openai_server.base_url, api_key=EnvVar("OPENAI_API_KEY"), http_retries=0
    )
    result = materialize([planned], resources={"planner": resource})

    assert result.success and result.output_for_node("planned") == 2
    assert openai_server.requests_to()[0].bearer == "env-key"


SECRET = "sk-test-ECHOED-0123456789abcdef"


def test_defaults_fail_a_server_that_never_answers_within_a_minute():
    planner = OpenAIPlanner(api_key=SECRET)
    worst = (1 + planner.http_retries) * planner.timeout_s + 2 * planner.http_retries
    assert worst < 60, f"a hung server takes up to {worst:.0f} s to fail with the defaults"


def test_server_that_never_answers_fails_in_bounded_time_with_one_line(openai_server):
    openai_server.reply_hang(count=4)
    planner = make_planner(openai_server.base_url, timeout_s=1, http_retries=1, max_retries=3)

    start = time.perf_counter()
    with pytest.raises(BackendError) as caught:
        planner.plan(SPEC, DEFAULTS)
    elapsed = time.perf_counter() - start

    message = str(caught.value)
    assert len(openai_server.requests_to()) == 2, "one request and one retry, no re-asks"
    assert elapsed < 2 * 1 + 3, f"{elapsed:.1f} s"
    assert message.startswith(f"no reply from {openai_server.base_url} within 1 s (2 tries)")
    assert "raise planner.timeout_s" in message and "\n" not in message


@pytest.mark.parametrize("mode", ["json", "tools"])
@pytest.mark.parametrize("status", [401, 400, 500])
def test_key_echoed_by_the_server_appears_nowhere(openai_server, capfd, caplog, mode, status):
    """The server quotes the bearer token in its error body: not in our message, not in
    any log record of openai/instructor/httpx (at DEBUG), not on stderr."""
    import logging
    import traceback

    for _ in range(4):  # 500 is retried by the client, then re-raised
        openai_server.reply_echo_key(status)
    planner = OpenAIPlanner(
        base_url=openai_server.base_url,
        api_key=SECRET,
        mode=mode,
        timeout_s=5,
        http_retries=1,
        max_retries=1,
    )
    logging.getLogger("instructor").addHandler(logging.StreamHandler())  # straight to stderr
    try:
        with caplog.at_level(logging.DEBUG), pytest.raises(BackendError) as caught:
            planner.plan(SPEC, DEFAULTS)
    finally:
        logging.getLogger("instructor").handlers.clear()

    assert openai_server.requests_to()[0].bearer == SECRET
    message = str(caught.value)
    assert f"HTTP {status}" in message and "***" in message
    shown = "".join(traceback.format_exception(caught.value))
    logged = "\n".join(caplog.text.splitlines() + [r.getMessage() for r in caplog.records])
    captured = capfd.readouterr()
    assert caplog.records, "the client libraries logged at DEBUG"
    for where, text in {
        "message": message,
        "traceback": shown,
        "log": logged,
        "stderr": captured.err,
        "stdout": captured.out,
    }.items():
        assert SECRET not in text, f"the key leaked into the {where}"


DAGSTER_RUN = """
import logging, os, sys
from dagster import DagsterInstance, asset, materialize
from longvid_assets.plan import RenderDefaults
from longvid_assets.prompts import PromptSpec
from longvid_assets.resources.openai_planner import OpenAIPlanner
from longvid_assets.resources.planner import Planner

@asset
def planned(planner: Planner) -> int:
    spec = PromptSpec(prompt="A keeper climbs to the lamp.")
    return len(planner.plan(spec, RenderDefaults()).segments)

resource = OpenAIPlanner(
    base_url=os.environ["BASE_URL"], api_key=os.environ["SECRET"], http_retries=0
)
with DagsterInstance.local_temp(os.environ["HOME_DIR"]) as instance:
    result = materialize(
        [planned], resources={"planner": resource}, instance=instance, raise_on_error=False
    )
    events = "\\n".join(str(event) for event in instance.all_logs(result.run_id))
    with open(os.path.join(os.environ["HOME_DIR"], "events.txt"), "w") as out:
        out.write(events)
sys.exit(0 if not result.success else 3)
"""


def test_echoed_key_stays_out_of_dagster_event_log_and_compute_logs(openai_server, tmp_path):
    """A real process, logging as the CLI's (instructor's errors reach stderr through
    logging's last-resort handler, and Dagster captures stderr into compute logs)."""
    import os
    import subprocess
    import sys

    openai_server.reply_echo_key(401)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "BASE_URL": openai_server.base_url,
        "SECRET": SECRET,
        "HOME_DIR": str(home),
    }
    done = subprocess.run(
        [sys.executable, "-c", DAGSTER_RUN], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert openai_server.requests_to()[0].bearer == SECRET
    events = (home / "events.txt").read_text()
    assert "refused the API key" in events
    files = [path for path in home.rglob("*") if path.is_file()]
    assert any(path.suffix == ".err" for path in files), "compute logs were captured"
    assert SECRET not in done.stderr + done.stdout
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), f"the key is in {path}"


def test_llm_plan_over_the_limits_is_sent_back_then_refused(openai_server):
    from longvid_assets.errors import PromptFileError
    from longvid_assets.limits import RenderLimits

    defaults = RenderDefaults(limits=RenderLimits(max_segments=1, max_word_chars=20))
    one = json.loads(json.dumps(REPLY))
    one["segments"] = one["segments"][:1]
    long_word = json.loads(json.dumps(one))
    long_word["segments"][0]["narration"] = "Every " + "m" * 40 + " morning."
    openai_server.reply_json(REPLY)  # two segments: over max_segments, re-asked
    openai_server.reply_json(long_word)  # a 40-character word: re-asked
    openai_server.reply_json(one)
    draft = make_planner(openai_server.base_url, max_retries=3).plan(SPEC, defaults)
    reasks = [r.body["messages"][-1]["content"] for r in openai_server.requests_to()[1:]]
    assert "2 segments; at most 1 are allowed" in reasks[0]
    assert "a word of 40 characters; at most 20" in reasks[1]
    assert len(draft.segments) == 1

    # build_plan checks the same limits whatever the planner returned.
    tight = RenderDefaults(limits=RenderLimits(max_narration_chars=10))
    with pytest.raises(PromptFileError) as caught:
        build_plan(
            SPEC,
            draft.segments,
            render="keeper",
            source="keeper.yaml",
            planner="openai",
            defaults=tight,
            music_mood="calm",
        )
    message = str(caught.value)
    assert message.startswith("keeper.yaml: field 'segments.0.narration': is 42 characters")
    assert "render.limits.max_narration_chars" in message and "\n" not in message
