"""A planner on any OpenAI-compatible chat endpoint (OpenAI, vLLM, ...), through instructor.

The model answers with a `PlannedVideo`; instructor validates it and re-asks with the
validation errors when it does not fit (bad JSON, a missing field, a narration too long for
its segment), up to `max_retries` times.
"""

import logging
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from longvid_assets.embedded.scenes import MOODS, word_budget
from longvid_assets.errors import BackendError
from longvid_assets.limits import RenderLimits
from longvid_assets.plan import (
    RenderDefaults,
    SegmentDraft,
    count_words,
    estimate_duration,
)
from longvid_assets.prompts import MAX_SEGMENT_S, MIN_SEGMENT_S, PromptSpec
from longvid_assets.resources.openai_http import (
    client_timeout,
    install_secret_filter,
    root_reason,
    scrub,
    server_message,
)
from longvid_assets.resources.planner import PlanDraft, Planner

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
INSTRUCTOR_MODES = ("json", "tools", "md_json")

SYSTEM_PROMPT = """You plan long narrated videos. Split the user's story into consecutive \
segments, in order, covering all of it. For each segment give:
- prompt: what the camera sees during the segment, as a concrete visual description;
- last_keyframe: the still image the segment ends on (the next segment starts from it);
- narration: the words spoken over the segment;
- duration_s: the segment's length in seconds.
Also give a title, opening_keyframe (the still image the first segment starts from) and \
music_mood, one of: {moods}.
Each narration is spoken at {wpm:.0f} words per minute, so it must have at most {max_words} \
words; each duration_s is from {min_s:g} to {max_s:g} seconds and long enough to speak its \
narration. Keyframes are single moments someone could paint: subjects, setting, light, \
composition; no camera moves, no sounds, no text overlays.{target}"""


class PlannedSegment(BaseModel):
    prompt: str = Field(min_length=1, description="what the camera sees during the segment")
    last_keyframe: str = Field(min_length=1, description="the still image the segment ends on")
    narration: str = Field(min_length=1, description="the words spoken over the segment")
    duration_s: float = Field(
        ge=MIN_SEGMENT_S, le=MAX_SEGMENT_S, description="segment length in seconds"
    )


class PlannedVideo(BaseModel):
    """The model's answer. Validation context `max_words` caps each narration's length."""

    title: str = Field(min_length=1)
    opening_keyframe: str = Field(
        min_length=1, description="the still image the first segment starts from"
    )
    segments: list[PlannedSegment] = Field(min_length=1)
    music_mood: Literal["calm", "uplifting", "tense", "dark", "playful", "epic"]

    @field_validator("music_mood", mode="before")
    @classmethod
    def _mood_lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("segments")
    @classmethod
    def _narration_fits(cls, segments: list[PlannedSegment], info: ValidationInfo):
        """Sent back to the model when it fails: narrations short enough for a segment,
        and within the render limits (`build_plan` checks those again for every planner)."""
        context = info.context or {}
        max_words, limits = context.get("max_words"), context.get("limits")
        if limits is not None and len(segments) > limits.max_segments:
            raise ValueError(
                f"{len(segments)} segments; at most {limits.max_segments} are allowed: "
                "use fewer, longer segments"
            )
        for index, segment in enumerate(segments):
            words = count_words(segment.narration)
            if max_words is not None and words > max_words:
                raise ValueError(
                    f"segment {index} narration has {words} words; at most {max_words} fit "
                    "in one segment: split it into more segments or shorten it"
                )
            if limits is not None:
                _within_limits(index, segment, limits)
        return segments


def _within_limits(index: int, segment: PlannedSegment, limits: RenderLimits) -> None:
    if len(segment.narration) > limits.max_narration_chars:
        raise ValueError(
            f"segment {index} narration has {len(segment.narration)} characters; at most "
            f"{limits.max_narration_chars} are allowed: shorten it"
        )
    longest = max((len(word) for word in segment.narration.split()), default=0)
    if longest > limits.max_word_chars:
        raise ValueError(
            f"segment {index} narration has a word of {longest} characters; at most "
            f"{limits.max_word_chars} are allowed: write words separated by spaces"
        )


class OpenAIPlanner(Planner):
    """Plans with a chat model on any OpenAI-compatible server (`base_url`, e.g. vLLM)."""

    backend_name: ClassVar[str] = "openai"
    not_in_fingerprint: ClassVar[frozenset[str]] = frozenset(
        {"max_retries", "timeout_s", "http_retries"}
    )

    model: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key: str
    mode: str = "json"
    max_retries: int = Field(3, ge=0, description="re-asks when a reply does not validate")
    # A server that never answers fails after (1 + http_retries) x timeout_s, about 51 s
    # with these defaults; raise timeout_s for long plans from slow models.
    timeout_s: float = Field(25.0, gt=0, description="seconds to wait for each reply")
    temperature: float = Field(0.2, ge=0, le=2)
    http_retries: int = Field(1, ge=0, description="OpenAI client retries on network faults")

    _client: Any = PrivateAttr(default=None)

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, value: str) -> str:
        if value not in INSTRUCTOR_MODES:
            raise ValueError(
                f"planner.mode {value!r} is not an instructor mode we support: use one of "
                f"{', '.join(INSTRUCTOR_MODES)}"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(
                f"planner.base_url {value!r} is not an http(s) URL: "
                "use e.g. http://localhost:8000/v1"
            )
        return value

    def setup_for_execution(self, context) -> None:
        self.client()

    def teardown_after_execution(self, context) -> None:
        if self._client is not None:
            self._client.client.close()
            self._client = None

    def client(self):
        """The instructor client, created once per resource instance."""
        if self._client is None:
            import instructor
            import openai

            install_secret_filter(self.api_key)  # servers may echo the key in error bodies
            raw = openai.OpenAI(
                api_key=self.api_key,
                base_url=self.base_url or DEFAULT_BASE_URL,
                timeout=client_timeout(self.timeout_s),
                max_retries=self.http_retries,
            )
            mode = {
                "json": instructor.Mode.JSON,
                "tools": instructor.Mode.TOOLS,
                "md_json": instructor.Mode.MD_JSON,
            }[self.mode]
            self._client = instructor.from_openai(raw, mode=mode)
        return self._client

    def plan(self, spec: PromptSpec, defaults: RenderDefaults) -> PlanDraft:
        max_words, _ = word_budget(defaults)
        # 1. Ask: instructor validates the reply (limits included) and re-asks with the errors.
        video, message = None, None
        try:
            video = self.client().chat.completions.create(
                model=self.model,
                response_model=PlannedVideo,
                messages=build_messages(spec, defaults, max_words),
                max_retries=self.max_retries,
                context={"max_words": max_words, "limits": defaults.limits},
                strict=False,
                temperature=self.temperature,
            )
        except Exception as exc:
            message = self._failure(exc)
            if message is None:  # a bug, not a planning fault: let it raise as it is
                raise
        if message is not None:  # raised outside `except`: no __context__ holding the key
            raise BackendError(message)
        # 2. Convert to drafts, fitting durations to the limits and the requested total.
        log.info(
            "planner %s returned %d segments for %r", self.model, len(video.segments), video.title
        )
        return PlanDraft(to_drafts(video, spec, defaults), video.music_mood, title=video.title)

    def _failure(self, exc: Exception) -> str | None:
        """One line for a planning failure, the API key scrubbed out: a known OpenAI or
        instructor fault with its fix; any other exception whose text holds the key, by its
        type and scrubbed message; None for the rest (bugs: they raise unchanged)."""
        base_url = self.base_url or DEFAULT_BASE_URL
        message = describe_openai_failure(
            exc, base_url, self.api_key, self.timeout_s, self.http_retries
        )
        if message is None and scrub(str(exc), [self.api_key]) != str(exc):
            message = _one_line(f"planner failed: {type(exc).__name__}: {exc}", self.api_key)
        return message


def build_messages(spec: PromptSpec, defaults: RenderDefaults, max_words: int) -> list[dict]:
    target = ""
    if spec.duration is not None:
        typical_s = (defaults.min_segment_s + defaults.max_segment_s) / 2
        count = max(1, round(spec.duration / typical_s))
        target = (
            f"\nThe whole video must last {spec.duration:g} seconds in total (about {count} "
            "segments): make the duration_s values add up to exactly that."
        )
    system = SYSTEM_PROMPT.format(
        moods=", ".join(MOODS),
        wpm=defaults.words_per_minute,
        max_words=max_words,
        min_s=defaults.min_segment_s,
        max_s=defaults.max_segment_s,
        target=target,
    )
    user = spec.prompt if not spec.title else f"Title: {spec.title}\n\n{spec.prompt}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def to_drafts(
    video: PlannedVideo, spec: PromptSpec, defaults: RenderDefaults
) -> list[SegmentDraft]:
    """Drafts with durations long enough for their narration and within min/max_segment_s,
    then scaled to add up to `spec.duration` when the prompt file sets one."""
    durations = []
    for index, segment in enumerate(video.segments):
        needed = estimate_duration(segment.narration, defaults)
        fitted = min(max(segment.duration_s, needed), defaults.max_segment_s)
        if abs(fitted - segment.duration_s) > 1e-6:
            log.warning(
                "segment %03d duration %.2f s from the planner changed to %.2f s to fit its "
                "narration and %g–%g s",
                index,
                segment.duration_s,
                fitted,
                defaults.min_segment_s,
                defaults.max_segment_s,
            )
        durations.append(fitted)
    if spec.duration is not None:
        scale = spec.duration / sum(durations)
        durations = [min(max(d * scale, MIN_SEGMENT_S), MAX_SEGMENT_S) for d in durations]
    drafts = []
    for index, (segment, duration) in enumerate(zip(video.segments, durations, strict=True)):
        drafts.append(
            SegmentDraft(
                prompt=segment.prompt.strip(),
                narration=segment.narration.strip(),
                duration_s=duration,
                first_keyframe=video.opening_keyframe.strip() if index == 0 else None,
                last_keyframe=segment.last_keyframe.strip(),
            )
        )
    return drafts


def describe_openai_failure(
    exc: Exception,
    base_url: str,
    api_key: str,
    timeout_s: float | None = None,
    http_retries: int = 0,
) -> str | None:
    """One line naming what failed and the fix, for an error from instructor or the OpenAI
    client; None for anything else (a bug: let it raise). The API key never appears."""
    import instructor.core as instructor_errors
    import openai

    # 1. Instructor wraps whatever ended its attempts; the cause is the real failure.
    cause = exc.__cause__ if isinstance(exc, instructor_errors.InstructorRetryException) else exc
    cause = cause or exc
    if isinstance(cause, openai.APITimeoutError):
        tries = f" ({1 + http_retries} tries)" if http_retries else ""
        message = (
            f"no reply from {base_url} within {timeout_s or 0:g} s{tries} — check the server "
            "is up and serving the model, or raise planner.timeout_s"
        )
    elif isinstance(cause, openai.APIConnectionError):
        message = (
            f"cannot reach {base_url}: {root_reason(cause)} — start the server or fix "
            "planner.base_url"
        )
    elif isinstance(cause, openai.AuthenticationError | openai.PermissionDeniedError):
        message = (
            f"{base_url} refused the API key (HTTP {cause.status_code}: "
            f"{server_message(cause)}) — set OPENAI_API_KEY to a valid key for this server"
        )
    elif isinstance(cause, openai.APIStatusError):
        message = (
            f"{base_url} answered HTTP {cause.status_code}: {server_message(cause)} — "
            f"{_status_fix(cause.status_code)}"
        )
    elif isinstance(exc, instructor_errors.IncompleteOutputException):
        message = (
            "the model's reply was cut off at its token limit — shorten the prompt, or use a "
            "model with a longer output limit"
        )
    elif isinstance(exc, instructor_errors.InstructorRetryException) and exc.failed_attempts:
        first_error = _first_error(exc.failed_attempts[-1].exception)
        message = (
            f"the model's reply did not validate after {exc.n_attempts} tries: {first_error} — "
            "raise planner.max_retries, try planner.mode 'tools', or use a stronger model"
        )
    elif isinstance(exc, instructor_errors.InstructorError | openai.OpenAIError):
        message = f"planner request failed: {cause}"
    else:
        return None
    return _one_line(message, api_key)


_STATUS_FIXES = {
    400: "check planner.model and planner.mode (the server may not support JSON mode or tools)",
    404: "check planner.model is served there and planner.base_url ends in /v1",
    429: "wait for the rate limit or quota to reset, or lower concurrency",
}


def _status_fix(status: int) -> str:
    if status >= 500:
        return "the server failed: check its logs, then retry"
    return _STATUS_FIXES.get(status, "check planner.model, planner.mode and the server")


def _first_error(exc: BaseException) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(exc)


def _one_line(message: str, api_key: str) -> str:
    return " ".join(scrub(message, [api_key]).split())[:600]
