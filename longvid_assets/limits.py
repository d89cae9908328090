"""How much one prompt file may ask for, with one-line errors that name the limit and its fix.

Two kinds of bound:

1. Parse bounds (the constants below) keep *reading* any prompt file cheap in time and
   memory, whatever it holds: YAML nesting depth, alias expansion and scalar size. They are
   fixed: no sensible prompt file comes near them.
2. `RenderLimits` (the config's `render: limits:` section) bound the *work* a render may
   ask for: total length, segments, characters per field, the length of one word (Piper's
   memory grows with it), pixels. They apply to explicit segments and to every planner's
   plan alike (`plan.build_plan` calls `check_plan`), and their errors say how to raise them.
"""

import functools
import re
import reprlib
from typing import TYPE_CHECKING

from dagster import Config
from pydantic import Field
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import ScalarNode, SequenceNode
from yaml.resolver import Resolver

from longvid_assets.errors import PromptFileError

if TYPE_CHECKING:  # plan.py and prompts.py import this module
    from longvid_assets.plan import RenderDefaults, RenderPlan
    from longvid_assets.prompts import PromptSpec

# 1. Parse bounds.
MAX_YAML_DEPTH = 50  # nested mappings/lists; a prompt file needs 4
MAX_YAML_ALIASES = 100  # uses of `*anchor` (merge keys `<<: *a` included)
MAX_YAML_ALIAS_NODES = 10_000  # values the aliases add when expanded
MAX_YAML_ALIAS_CHARS = 1_000_000  # characters the aliases add when expanded
MAX_YAML_NODES = 100_000  # values written out in the file (1,000 segments need ~11,000)
MAX_YAML_SCALAR_CHARS = 500_000  # one string or number
HARD_MAX_TOTAL_S = 24 * 3600.0  # no `max_total_s` may go beyond one day
CLIP_CHARS = 60  # a quoted value in an error message is cut to this many characters

try:  # libyaml scans and parses in C; composing (where the bounds are kept) stays in Python
    from yaml.cyaml import CParser

    _PARSER_BASES: tuple[type, ...] = (CParser,)
    _LIBYAML = True
except ImportError:  # PyYAML built without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    _PARSER_BASES = (Reader, Scanner, Parser)
    _LIBYAML = False

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = CLIP_CHARS
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4
_REPR.maxlevel = 2

# A "word" for speech: a run of characters that are neither spaces nor punctuation, so an
# unpunctuated CJK run counts as one word (Piper speaks it as one unit).
_WORD_CHAR = (
    r"[^\s!-/:-@\[-`{-~\u00a1-\u00bf\u2010-\u2027\u2030-\u205e\u3000-\u303f"
    r"\ufe30-\ufe4f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]"
)


class RenderLimits(Config):
    """The most one render may ask for; the config's `render: limits:` raises or lowers each."""

    max_total_s: float = Field(4 * 3600.0, gt=0, le=HARD_MAX_TOTAL_S)
    max_segments: int = Field(1000, ge=1)
    max_narration_chars: int = Field(2000, ge=1)
    max_prompt_chars: int = Field(100_000, ge=1)
    max_title_chars: int = Field(300, ge=1)
    max_field_chars: int = Field(2000, ge=1)  # a segment's prompt, keyframes, style, voice
    max_word_chars: int = Field(60, ge=1)
    max_pixels_per_render: int = Field(1920 * 1080 * 30 * 4 * 3600, ge=1)  # 4 h 1080p30


class YamlLimitError(ComposerError):
    """A parse bound was crossed while reading YAML; `problem` names which one."""


class YamlValueError(ConstructorError):
    """A value YAML parsed but cannot convert (`!!float abc`, an integer of 5,000 digits),
    with its position, so the message can name the field it is in."""


class BoundedYamlLoader(Composer, *_PARSER_BASES, SafeConstructor, Resolver):
    """`yaml.SafeLoader` (same tags: `!!python` and unknown tags stay refused) that weighs
    every node as it is composed, before anything is constructed or validated: nesting
    depth, values in the file, and what aliases add when expanded. A 1.2 KB "billion
    laughs" stops after a few hundred nodes instead of expanding to billions, and no
    nesting reaches Python's recursion limit."""

    def __init__(self, stream: str):
        if _LIBYAML:
            CParser.__init__(self, stream)
        else:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._depth = 0
        self._nodes = 0
        self._aliases = 0
        self._alias_nodes = 0
        self._alias_chars = 0
        self._weights: dict[int, tuple] = {}  # id(node) -> (node, values, characters)

    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):
            return self._compose_alias(parent, index)
        mark = self.peek_event().start_mark
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise YamlLimitError(
                    None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", mark
                )
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        self._weigh(node, mark)
        return node

    def _compose_alias(self, parent, index):
        event = self.peek_event()
        node = self.anchors.get(event.anchor)
        if node is not None:  # an undefined alias is refused by Composer itself
            weight = self._weights.get(id(node))
            if weight is None:
                raise YamlLimitError(
                    None, None, "an alias refers to a value that contains it", event.start_mark
                )
            self._aliases += 1
            self._alias_nodes += weight[1]
            self._alias_chars += weight[2]
            if self._aliases > MAX_YAML_ALIASES:
                problem = f"more than {MAX_YAML_ALIASES} aliases"
            elif self._alias_nodes > MAX_YAML_ALIAS_NODES:
                problem = f"aliases expand to more than {MAX_YAML_ALIAS_NODES:,} values"
            elif self._alias_chars > MAX_YAML_ALIAS_CHARS:
                problem = f"aliases expand to more than {MAX_YAML_ALIAS_CHARS:,} characters"
            else:
                problem = None
            if problem:
                raise YamlLimitError(None, None, problem, event.start_mark)
        return super().compose_node(parent, index)

    def _weigh(self, node, mark) -> None:
        """Record how many values and characters `node` stands for, aliases expanded."""
        self._nodes += 1
        if self._nodes > MAX_YAML_NODES:
            raise YamlLimitError(None, None, f"more than {MAX_YAML_NODES:,} values", mark)
        if isinstance(node, ScalarNode):
            values, chars = 1, len(node.value)
            if chars > MAX_YAML_SCALAR_CHARS:
                problem = f"a value of {chars:,} characters (over {MAX_YAML_SCALAR_CHARS:,})"
                raise YamlLimitError(None, None, problem, mark)
        else:
            values, chars = 1, 0
            if isinstance(node, SequenceNode):
                children = node.value
            else:
                children = [part for pair in node.value for part in pair]
            for child in children:
                _, child_values, child_chars = self._weights[id(child)]
                values += child_values
                chars += child_chars
        self._weights[id(node)] = (node, values, chars)

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise YamlValueError(None, None, shorten(exc, 120), node.start_mark) from None


def load_yaml(text: str):
    """Parse one YAML document within the parse bounds; raises `yaml.YAMLError`
    (`YamlLimitError` for a bound, `YamlValueError` for a value that cannot be converted,
    e.g. an integer of 5,000 digits)."""
    loader = BoundedYamlLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def clip(value, limit: int = CLIP_CHARS) -> str:
    """A bounded repr for error messages: never formats a whole (maybe huge) value."""
    text = _REPR.repr(value) if not isinstance(value, str) else repr(value[: limit + 1])
    return text if len(text) <= limit + 2 else text[:limit] + "…"


def shorten(text, limit: int = CLIP_CHARS) -> str:
    """`text` on one printable line, cut to `limit` characters."""
    text = printable(" ".join(str(text)[: limit * 4].split()))
    return text if len(text) <= limit else text[:limit] + "…"


def shown(path) -> str:
    """A file's name as a one-line message shows it: a newline, ESC or undecodable byte in
    the name (`new\\nline.yaml` is a valid file name) escaped by `printable`."""
    return printable(str(path))


def printable(text: str) -> str:
    """`text` with control characters, lone surrogates and other unprintable characters
    written as escapes: safe to print on one terminal line (no ESC sequences, no newline,
    no UnicodeEncodeError)."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


def limit_error(where, field: str | None, problem: str, hint: str, limit: str, value):
    """One line: the problem, what to change, and the config key that raises the limit."""
    fix = f"{hint}, or raise render.limits.{limit} in the config (now {value:,})"
    return PromptFileError(shown(where), problem, fix, field)


@functools.lru_cache(maxsize=8)
def _long_word(max_chars: int) -> re.Pattern:
    return re.compile(f"{_WORD_CHAR}{{{max_chars + 1},}}")


def check_text(where, field: str, text: str | None, max_chars: int, limit: str) -> None:
    if text is not None and len(text) > max_chars:
        raise limit_error(
            where,
            field,
            f"is {len(text):,} characters, over the limit",
            "shorten it",
            limit,
            max_chars,
        )


def check_words(where, field: str, text: str | None, limits: RenderLimits) -> None:
    """Refuse a spoken text holding one word (or unpunctuated CJK run) too long to speak."""
    match = _long_word(limits.max_word_chars).search(text or "")
    if match is not None:
        raise limit_error(
            where,
            field,
            f"has a word of {len(match.group()):,} characters ({clip(match.group(), 20)}); "
            "speech memory grows with the length of one word",
            "break it up with spaces or punctuation (in CJK text: 。，)",
            "max_word_chars",
            limits.max_word_chars,
        )


def check_spec(spec: "PromptSpec", defaults: "RenderDefaults", where) -> None:
    """What a prompt file asks for, before any planning: characters and words per field,
    explicit segment count, the total `duration` and the pixels it implies."""
    limits = defaults.limits
    # 1. Characters and words, field by field.
    check_text(where, "title", spec.title, limits.max_title_chars, "max_title_chars")
    for name in ("style", "voice", "music"):
        text = getattr(spec, name)
        check_text(where, name, text, limits.max_field_chars, "max_field_chars")
    if not spec.segments:  # with explicit segments `prompt` is not planned from
        check_text(where, "prompt", spec.prompt, limits.max_prompt_chars, "max_prompt_chars")
        check_words(where, "prompt", spec.prompt, limits)
    for index, seg in enumerate(spec.segments or []):
        at = f"segments.{index}"
        for name in ("prompt", "first_keyframe", "last_keyframe"):
            text = getattr(seg, name)
            check_text(where, f"{at}.{name}", text, limits.max_field_chars, "max_field_chars")
        narration = seg.narration if seg.narration is not None else seg.prompt
        spoken = f"{at}.narration" if seg.narration is not None else f"{at}.prompt"
        check_text(where, spoken, narration, limits.max_narration_chars, "max_narration_chars")
        check_words(where, spoken, narration, limits)
    # 2. Counts, length and pixels.
    count = len(spec.segments or [])
    if count > limits.max_segments:
        raise limit_error(
            where,
            "segments",
            f"has {count:,} segments, over the limit",
            "split the story into several prompt files",
            "max_segments",
            limits.max_segments,
        )
    if spec.duration is not None:
        check_total(where, "duration", spec.duration, limits)
        width, height = spec.resolution or defaults.resolution
        fps = spec.fps or defaults.fps
        check_pixels(where, width, height, fps, round(spec.duration * fps), limits)


def check_total(where, field: str, seconds: float, limits: RenderLimits) -> None:
    if seconds > limits.max_total_s:
        raise limit_error(
            where,
            field,
            f"the video would last {seconds:,.0f} s, over the limit",
            "ask for a shorter video (lower 'duration' or shorten the story)",
            "max_total_s",
            limits.max_total_s,
        )


def check_pixels(where, width: int, height: int, fps: int, frames: int, limits) -> None:
    pixels = width * height * frames
    if pixels > limits.max_pixels_per_render:
        raise limit_error(
            where,
            "resolution",
            f"{width}x{height} at {fps} fps for {frames:,} frames is {pixels:,} pixels, "
            "over the limit",
            "lower 'resolution', 'fps' or the length",
            "max_pixels_per_render",
            limits.max_pixels_per_render,
        )


def check_plan(plan: "RenderPlan", limits: RenderLimits, where) -> None:
    """A made plan (explicit segments or any planner's) within the limits: counts, total
    length, pixels, then each segment's text."""
    made_by = f" (planned by {plan.planner})"
    # 1. The whole render.
    if len(plan.segments) > limits.max_segments:
        raise limit_error(
            where,
            "segments",
            f"the plan has {len(plan.segments):,} segments{made_by}, over the limit",
            "shorten the story or split it into several prompt files",
            "max_segments",
            limits.max_segments,
        )
    check_total(where, "duration", plan.duration_s, limits)
    width, height = plan.resolution
    check_pixels(where, width, height, plan.fps, plan.total_frames, limits)
    check_text(where, "title", plan.title, limits.max_title_chars, "max_title_chars")
    # 2. Each segment's text.
    for seg in plan.segments:
        at = f"segments.{seg.index}"
        for name in ("prompt", "first_keyframe", "last_keyframe"):
            text = getattr(seg, name)
            check_text(where, f"{at}.{name}", text, limits.max_field_chars, "max_field_chars")
        check_text(
            where,
            f"{at}.narration",
            seg.narration,
            limits.max_narration_chars,
            "max_narration_chars",
        )
        check_words(where, f"{at}.narration", seg.narration, limits)
