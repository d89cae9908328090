"""Hostile prompt files, generated: what an attacker, a careless user or a broken editor
would feed the prompt folder (issue 10). `write_hostile_files(folder)` writes them all and
returns one `HostileCase` per file, saying what the validation must make of it.

    cases = write_hostile_files(tmp_path)
    for case in cases:
        validate_prompt_file(case.path, RenderDefaults(), check_voice=...)

Expectations: "error" (a one-line `LongvidError` naming the file and, when `field` is set,
that field), "plan" (a plan within the limits) or "either" (both are fine, e.g. a YAML type
that pydantic may coerce). Kinds group the cases for the summary. Besides files there are
symlinks (loops, dangling, to devices, outside the folder), a FIFO, a directory, and good
files whose render names collide (in the subfolder `collisions/`, under their exact names).
"""

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SENTENCE = "A lighthouse stands on a rocky cliff above a calm grey sea."
GIB = 1 << 30


@dataclass
class HostileCase:
    kind: str
    label: str
    content: bytes
    suffix: str = ".yaml"
    expect: str = "error"  # "error", "plan" or "either"
    field: str | None = None  # the field an error must name
    sparse_size: int | None = None  # written as a sparse file of this size instead
    name: str | None = None  # a file name of its own (else kind-label-index)
    link: str | None = None  # written as a symlink to this target ("{self}": a loop), the
    # content (when given) written at the target; relative targets are in the folder
    special: str | None = None  # "fifo" or "directory" instead of a file
    subfolder: str | None = None  # written there under its exact `name`, unnumbered
    path: Path = Path()  # set by write_hostile_files


def text(kind, label, content: str, **options) -> HostileCase:
    return HostileCase(kind, label, content.encode("utf-8", "surrogatepass"), **options)


def yaml_doc(**fields) -> str:
    """A YAML mapping with each value written as JSON (valid YAML flow style)."""
    return "".join(f"{key}: {json.dumps(value)}\n" for key, value in fields.items())


# 1. YAML alias bombs ------------------------------------------------------------------------
def alias_bombs() -> Iterator[HostileCase]:
    for depth, width in [(3, 10), (4, 10), (6, 6), (9, 9), (12, 4), (20, 2), (30, 2)]:
        lines = ['a0: &a0 "lol"']
        for level in range(1, depth + 1):
            refs = ", ".join([f"*a{level - 1}"] * width)
            lines.append(f"a{level}: &a{level} [{refs}]")
        yield text("alias-bomb", f"laughs-{depth}x{width}", "\n".join(lines) + "\nprompt: hi\n")
        # The same bomb as the value of a real field.
        body = "\n".join(lines[:-1]) + f"\nprompt: [{', '.join([f'*a{depth - 1}'] * width)}]\n"
        yield text("alias-bomb", f"in-prompt-{depth}x{width}", body)
    mapping = ["m0: &m0 {a: lol, b: lol, c: lol, d: lol}"]
    for level in range(1, 9):
        refs = ", ".join(f"k{i}: *m{level - 1}" for i in range(6))
        mapping.append(f"m{level}: &m{level} {{{refs}}}")
    yield text("alias-bomb", "mappings", "\n".join(mapping) + "\nprompt: hi\n")
    merges = ["b0: &b0 {prompt: lol, narration: lol}"]
    for level in range(1, 8):
        merges.append(f"b{level}: &b{level} {{<<: [{', '.join([f'*b{level - 1}'] * 8)}]}}")
    yield text("alias-bomb", "merge-keys", "\n".join(merges) + "\nprompt: hi\n")
    segment = "  - &s {prompt: Waves on the rocks., duration: 3}\n"
    yield text("alias-bomb", "150-segment-aliases", "segments:\n" + segment + "  - *s\n" * 150)
    yield text(
        "alias-bomb",
        "50-segment-aliases",
        "segments:\n" + segment + "  - *s\n" * 50,
        expect="plan",
    )
    big = "word " * 1800
    yield text(
        "alias-bomb",
        "string-x150",
        f"a: &a {json.dumps(big)}\nsegments:\n" + "  - {prompt: *a}\n" * 150,
    )
    yield text(
        "alias-bomb",
        "string-x100",
        f"big: &a {json.dumps(big)}\nsegments:\n" + "  - {prompt: *a}\n" * 100,
    )
    yield text("alias-bomb", "recursive-list", "prompt: &a [*a]\n", field="prompt")
    yield text("alias-bomb", "recursive-map", "prompt: &a {b: *a}\n", field="prompt")
    yield text("alias-bomb", "undefined", "prompt: *nowhere\n", field="prompt")
    yield text("alias-bomb", "101-scalar-aliases", "x: &x a\ny: [" + "*x, " * 100 + "*x]\n")


# 2. Deep nesting --------------------------------------------------------------------------
def deep_nesting() -> Iterator[HostileCase]:
    for depth in [10, 48, 51, 100, 500, 5_000, 100_000]:
        yield text(
            "deep", f"flow-list-{depth}", f"prompt: {'[' * depth}{']' * depth}\n", field="prompt"
        )
        yield text(
            "deep",
            f"flow-map-{depth}",
            "prompt: " + "{a: " * depth + "x" + "}" * depth + "\n",
            field="prompt",
        )
    for depth in [40, 60, 500]:
        lines = ["prompt:"] + [" " * (2 * level) + "a:" for level in range(1, depth)]
        yield text("deep", f"block-map-{depth}", "\n".join(lines) + " x\n", field="prompt")
    for depth in [500, 5_000]:
        yield text(
            "deep", f"compact-seq-{depth}", "prompt:\n  " + "- " * depth + "x\n", field="prompt"
        )
    yield text(
        "deep", "segments-nested-400", "segments: " + "[" * 400 + "]" * 400 + "\n", field="segments"
    )


# 3. Huge scalars and numbers ------------------------------------------------------------------
def huge_scalars() -> Iterator[HostileCase]:
    yield text("huge", "prompt-600k-plain", "prompt: " + "lol " * 150_000 + "\n", field="prompt")
    yield text(
        "huge", "prompt-400k-block", "prompt: |\n" + "  lol lol lol\n" * 30_000, field="prompt"
    )
    yield text(
        "huge", "prompt-150k-txt", SENTENCE + " " + "word " * 30_000, suffix=".txt", field="prompt"
    )
    yield text("huge", "title-100k", yaml_doc(title="T " * 50_000, prompt=SENTENCE), field="title")
    yield text("huge", "style-10k", yaml_doc(style="s " * 5_000, prompt=SENTENCE), field="style")
    yield text("huge", "voice-5k", yaml_doc(voice="v" * 5_000, prompt=SENTENCE), field="voice")
    yield text("huge", "music-5k", yaml_doc(music="m" * 5_000, prompt=SENTENCE), field="music")
    yield text("huge", "key-200k", "k" * 200_000 + ": 1\nprompt: hi\n")
    yield text("huge", "seed-5000-digits", "prompt: hi\nseed: " + "9" * 5_000 + "\n")
    yield text("huge", "seed-4000-digits", "prompt: hi\nseed: " + "9" * 4_000 + "\n", expect="plan")
    yield text("huge", "duration-1e400", "prompt: hi\nduration: 1e400\n", field="duration")
    yield text("huge", "tag-10k", "prompt: !" + "t" * 10_000 + " hi\n", field="prompt")
    yield text("huge", "anchor-200k", "prompt: &" + "a" * 200_000 + " hi\n", expect="either")
    yield text(
        "huge",
        "segment-prompt-9k",
        yaml_doc(segments=[{"prompt": "x " * 4_500}]),
        field="segments.0.prompt",
    )
    yield text(
        "huge",
        "keyframe-9k",
        yaml_doc(segments=[{"prompt": "p", "last_keyframe": "k " * 4_500}]),
        field="segments.0.last_keyframe",
    )
    yield text(
        "huge",
        "narration-9k",
        yaml_doc(segments=[{"prompt": "p", "narration": "n " * 4_500}]),
        field="segments.0.narration",
    )
    yield text(
        "huge", "flow-list-300k-items", "prompt: hi\nx: [" + ",".join(["1"] * 300_000) + "]\n"
    )
    yield text(
        "huge",
        "mapping-150k-keys",
        "prompt: hi\nx: {" + ", ".join(f"k{i}: 1" for i in range(150_000)) + "}\n",
    )


# 4. Long words and CJK runs (Piper's memory grows with the length of one word) -----------
def long_words() -> Iterator[HostileCase]:
    for size in [61, 500, 5_000, 50_000]:
        word = "a" * size
        yield text("long-word", f"txt-{size}", f"{SENTENCE} {word}.", suffix=".txt", field="prompt")
        yield text(
            "long-word", f"prompt-{size}", yaml_doc(prompt=f"{SENTENCE} {word}"), field="prompt"
        )
        yield text(
            "long-word",
            f"narration-{size}",
            yaml_doc(segments=[{"prompt": SENTENCE, "narration": word}]),
            field="segments.0.narration",
        )
        spoken = "segments.0.prompt"
        yield text(
            "long-word",
            f"segment-prompt-{size}",
            yaml_doc(segments=[{"prompt": word}]),
            field=spoken,
        )
        yield text(
            "long-word",
            f"title-{size}",
            yaml_doc(title=word, prompt=SENTENCE),
            expect="plan" if size <= 300 else "error",
            field="title",
        )
    yield text("long-word", "txt-60", f"{SENTENCE} {'a' * 60}.", suffix=".txt", expect="plan")
    yield text(
        "long-word",
        "hyphenated-500",
        SENTENCE + " " + "-".join(["abc"] * 125),
        suffix=".txt",
        expect="plan",
    )
    yield text(
        "long-word",
        "url-200",
        SENTENCE + " https://example.com/" + "/".join(["path"] * 40),
        suffix=".txt",
        expect="plan",
    )
    yield text("long-word", "cjk-480-txt", "山" * 480, suffix=".txt", field="prompt")
    yield text("long-word", "cjk-480-yaml", yaml_doc(prompt="海" * 480), field="prompt")
    yield text(
        "long-word",
        "cjk-480-narration",
        yaml_doc(segments=[{"prompt": "sea", "narration": "海" * 480}]),
        field="segments.0.narration",
    )
    yield text("long-word", "kana-480-txt", "あ" * 480, suffix=".txt", field="prompt")
    punctuated = "".join(
        ("灯台が崖の上に立っている" + ("。" if i % 2 else "，")) for i in range(40)
    )
    yield text("long-word", "cjk-punctuated", punctuated, suffix=".txt", expect="plan")
    yield text("long-word", "emoji-500", SENTENCE + " " + "🌊" * 500, suffix=".txt", field="prompt")
    yield text("long-word", "digits-500", SENTENCE + " " + "7" * 500, suffix=".txt", field="prompt")


# 5. Sizes, counts and lengths ---------------------------------------------------------------
def sizes_and_counts() -> Iterator[HostileCase]:
    paragraphs = "\n\n".join(
        f"Paragraph {i}: the ship sails on past the lighthouse." for i in range(20_000)
    )
    yield text("size", "txt-1mb-paragraphs", paragraphs[:999_000], suffix=".txt", field="prompt")
    yield text("size", "txt-1000001-bytes", "a " * 500_000 + "b", suffix=".txt")
    yield HostileCase("size", "txt-2gib-sparse", b"", suffix=".txt", sparse_size=2 * GIB)
    yield HostileCase("size", "yaml-2gib-sparse", b"", sparse_size=2 * GIB)
    yield text("size", "txt-90k-story", " ".join([SENTENCE] * 1_400), suffix=".txt", expect="plan")
    many = "".join(f"  - prompt: Scene {i}.\n    duration: 120\n" for i in range(10_000))
    yield text("count", "10000x120s", "segments:\n" + many, field="segments")
    yield text(
        "count",
        "1001-segments",
        yaml_doc(segments=[{"prompt": f"Scene {i}."} for i in range(1_001)]),
        field="segments",
    )
    yield text(
        "count",
        "1000x14.4s-at-25fps",
        yaml_doc(
            fps=25, segments=[{"prompt": f"Scene {i}.", "duration": 14.4} for i in range(1_000)]
        ),
        expect="plan",
    )
    # At 24 fps 14.4 s snaps to 346 frames (14.417 s): the whole frames make 14,417 s.
    yield text(
        "count",
        "1000x14.4s-at-24fps",
        yaml_doc(segments=[{"prompt": f"Scene {i}.", "duration": 14.4} for i in range(1_000)]),
        field="duration",
    )
    yield text(
        "count",
        "121x120s",
        yaml_doc(segments=[{"prompt": f"Scene {i}.", "duration": 120} for i in range(121)]),
        field="duration",
    )
    yield text("count", "segments-empty", "prompt: hi\nsegments: []\n", field="segments")
    yield text("count", "segments-null", "segments: null\n", field="prompt")


# 6. fps, resolution and duration extremes -----------------------------------------------------
def extremes() -> Iterator[HostileCase]:
    for value, expect in [
        ("0", "error"),
        ("1", "plan"),
        ("60", "plan"),
        ("61", "error"),
        ("-1", "error"),
        ("1.5", "error"),
        ("24.0", "either"),
        ('"24"', "either"),
        ("true", "either"),
        ("1e9", "error"),
        (".inf", "error"),
        (".nan", "error"),
        ("null", "plan"),
    ]:
        yield text("fps", value, f"prompt: {SENTENCE}\nfps: {value}\n", expect=expect, field="fps")
    for value, expect in [
        ("[64, 64]", "plan"),
        ("[4096, 2304]", "plan"),
        ("[63, 64]", "error"),
        ("[0, 0]", "error"),
        ("[-2, 2]", "error"),
        ("[1000000000, 1000000000]", "error"),
        ("[640]", "error"),
        ("[640, 360, 3]", "error"),
        ('"640x360"', "error"),
        ("{w: 640, h: 360}", "error"),
        ("[640.5, 360]", "error"),
        ("[4098, 64]", "error"),
        ("[true, true]", "error"),
        ("[]", "error"),
        ("null", "plan"),
    ]:
        yield text(
            "resolution",
            value,
            f"prompt: {SENTENCE}\nresolution: {value}\n",
            expect=expect,
            field="resolution",
        )
    for value, expect in [
        ("0", "error"),
        ("0.4", "error"),
        ("0.5", "plan"),
        ("-1", "error"),
        ("14400", "error"),
        ("14401", "error"),
        ("86401", "error"),
        (".inf", "error"),
        (".nan", "error"),
        ('"60"', "either"),
        ("1e308", "error"),
        ("120", "plan"),
        ("null", "plan"),
    ]:
        yield text(
            "duration",
            value,
            f"prompt: {SENTENCE}\nduration: {value}\n",
            expect=expect,
            field="duration",
        )
    story = "\n\n".join([SENTENCE] * 200)  # 200 scenes
    yield text(
        "duration",
        "1s-over-200-scenes",
        f"prompt: {json.dumps(story)}\nduration: 1\n",
        field="duration",
    )
    yield text(
        "duration",
        "14400s-over-200-scenes",
        f"prompt: {json.dumps(story)}\nduration: 14400\n",
        expect="plan",
    )
    yield text(
        "pixels",
        "4096x4096-60fps-4h",
        f"prompt: {SENTENCE}\nresolution: [4096, 4096]\nfps: 60\nduration: 14400\n",
        field="resolution",
    )
    yield text(
        "pixels",
        "1080p-30fps-4h-in-200",
        f"prompt: {json.dumps(story)}\nresolution: [1920, 1080]\nfps: 30\nduration: 14400\n",
        expect="plan",
    )
    yield text(
        "pixels",
        "4096-60fps-120x120s",
        yaml_doc(
            resolution=[4096, 4096],
            fps=60,
            segments=[{"prompt": f"S {i}.", "duration": 120} for i in range(120)],
        ),
        field="resolution",
    )
    for value in ["0.5", "120", "0.25", "121"]:
        expect = "plan" if value in ("0.5", "120") else "error"
        for fps in [1, 5, 7, 60]:
            yield text(
                "segment-duration",
                f"{value}s-at-{fps}fps",
                yaml_doc(fps=fps, segments=[{"prompt": SENTENCE, "duration": float(value)}]),
                expect=expect,
                field="segments.0.duration",
            )


# 7. Control characters, NUL and lone surrogates -----------------------------------------------
CONTROL_CODES = [c for c in range(32) if c not in (9, 10, 13)] + [0x7F, 0x80, 0x85, 0x9F]


def control_characters() -> Iterator[HostileCase]:
    for code in CONTROL_CODES:
        escaped = f"\\x{code:02x}"
        yield text(
            "control",
            f"escape-{code:02x}",
            f'prompt: "A lighthouse{escaped} at dusk."\n',
            field="prompt",
        )
    for name in ["title", "style", "voice"]:
        yield text("control", f"nul-in-{name}", f'prompt: hi\n{name}: "a\\0b"\n', field=name)
    yield text(
        "control",
        "esc-in-narration",
        'segments:\n  - prompt: a\n    narration: "b\\eb"\n',
        field="segments.0.narration",
    )
    yield text(
        "control",
        "nul-in-keyframe",
        'segments:\n  - prompt: a\n    first_keyframe: "\\0"\n',
        field="segments.0.first_keyframe",
    )
    for code in [0x00, 0x07, 0x1B, 0x7F]:
        yield text(
            "control",
            f"raw-yaml-{code:02x}",
            f"prompt: A lighthouse{chr(code)} at dusk.\n",
            field="prompt",
        )
    for code in [0x00, 0x07, 0x0C, 0x1B, 0x7F, 0x85, 0x9B]:
        yield text(
            "control",
            f"raw-txt-{code:02x}",
            f"{SENTENCE}{chr(code)} More.",
            suffix=".txt",
            field="prompt",
        )
    yield text(
        "control", "crlf-txt", f"{SENTENCE}\r\n\r\n{SENTENCE}\r\n", suffix=".txt", expect="plan"
    )
    yield text("control", "tabs-txt", f"\t{SENTENCE}\t{SENTENCE}", suffix=".txt", expect="plan")
    yield text("control", "crlf-yaml", f"title: Sea\r\nprompt: {SENTENCE}\r\n", expect="plan")


def surrogates() -> Iterator[HostileCase]:
    for escape in ["\\ud800", "\\udfff", "\\U0000d800", "\\ud83d\\ude00", "\\ud800\\ud800"]:
        for name in ["prompt", "title", "style"]:
            body = f'prompt: "{SENTENCE}"\n' if name != "prompt" else ""
            yield text(
                "surrogate",
                f"{name}-{escape.replace(chr(92), '')}",
                body + f'{name}: "a{escape}b"\n',
                field=name,
            )
    yield text(
        "surrogate",
        "narration",
        'segments:\n  - prompt: a\n    narration: "x\\udc80"\n',
        field="segments",  # a YAML error names the top-level key (and the line)
    )
    yield HostileCase("surrogate", "cesu-bytes-txt", b"A sea \xed\xa0\x80 here.", suffix=".txt")
    yield HostileCase("surrogate", "cesu-bytes-yaml", b"prompt: A sea \xed\xa0\x80 here.\n")


# 8. Voices, moods, empty narration --------------------------------------------------------------
def voices_and_moods() -> Iterator[HostileCase]:
    for voice, expect in [
        ("abc", "error"),
        ("../../etc/passwd", "error"),
        ("en_US-joe-medium", "plan"),
        ("EN_us-JOE-medium", "error"),
        ("", "plan"),
        ("/dev/zero", "error"),
        ("en_US-joe-medium.onnx", "error"),
        (" en_US-joe-medium", "error"),
    ]:
        yield text(
            "voice",
            voice or "empty",
            yaml_doc(prompt=SENTENCE, voice=voice),
            expect=expect,
            field="voice",
        )
    for mood, expect in [
        ("jazzy", "error"),
        ("CALM", "plan"),
        ("none", "plan"),
        ("silence", "plan"),
        ("auto", "plan"),
        ("", "plan"),
        ("epic ", "plan"),
        ("calm; rm -rf /", "error"),
    ]:
        yield text(
            "mood",
            mood or "empty",
            yaml_doc(prompt=SENTENCE, music=mood),
            expect=expect,
            field="music",
        )
    yield text("mood", "list", f"prompt: {SENTENCE}\nmusic: [calm]\n", field="music")
    one_empty = [{"prompt": SENTENCE, "narration": ""}, {"prompt": SENTENCE}]
    yield text("narration", "one-empty", yaml_doc(segments=one_empty), expect="plan")
    yield text(
        "narration",
        "all-empty",
        yaml_doc(segments=[{"prompt": SENTENCE, "narration": ""}] * 3),
        field="segments",
    )
    yield text(
        "narration",
        "whitespace",
        yaml_doc(segments=[{"prompt": SENTENCE, "narration": "  \n "}]),
        field="segments",
    )
    yield text(
        "narration",
        "null",
        yaml_doc(segments=[{"prompt": SENTENCE, "narration": None}]),
        expect="plan",
    )
    yield text(
        "narration",
        "punctuation-only",
        yaml_doc(segments=[{"prompt": SENTENCE, "narration": "..."}]),
        expect="plan",
    )


# 9. Encodings and byte order marks ----------------------------------------------------------------
def encodings() -> Iterator[HostileCase]:
    yield HostileCase("encoding", "latin-1", "prompt: café au lait\n".encode("latin-1"))
    yield HostileCase("encoding", "latin-1-txt", "café au lait".encode("latin-1"), suffix=".txt")
    yield HostileCase("encoding", "utf-16-le-bom", "prompt: hi\n".encode("utf-16"))
    yield HostileCase(
        "encoding", "utf-16-be-bom", b"\xfe\xff" + "prompt: hi\n".encode("utf-16-be"), suffix=".txt"
    )
    yield HostileCase("encoding", "utf-32", "prompt: hi\n".encode("utf-32"))
    yield HostileCase("encoding", "random-bytes", bytes(range(256)) * 4)
    yield HostileCase("encoding", "truncated-multibyte", b"prompt: caf" + b"\xc3")
    yield HostileCase("encoding", "overlong-nul", b"prompt: a\xc0\x80b\n")
    yield HostileCase(
        "encoding",
        "utf8-bom-yaml",
        b"\xef\xbb\xbfprompt: " + SENTENCE.encode() + b"\n",
        expect="plan",
    )
    yield HostileCase(
        "encoding",
        "utf8-bom-txt",
        b"\xef\xbb\xbf" + SENTENCE.encode(),
        suffix=".txt",
        expect="plan",
    )
    yield HostileCase(
        "encoding",
        "double-bom-txt",
        b"\xef\xbb\xbf\xef\xbb\xbf" + SENTENCE.encode(),
        suffix=".txt",
        expect="either",
    )
    yield HostileCase("encoding", "bom-mid-yaml", b"prompt: a\xef\xbb\xbfb\n", expect="either")
    yield HostileCase("encoding", "empty-txt", b"", suffix=".txt", field="prompt")
    yield HostileCase("encoding", "nul-only-txt", b"\x00" * 1000, suffix=".txt", field="prompt")


# 10. Wrong types for every field ------------------------------------------------------------------
WRONG_VALUES = {
    "list": "[a, b]",
    "map": "{a: b}",
    "bool": "true",
    "int": "42",
    "float": "4.5",
    "date": "2024-01-01",
    "binary": "!!binary aGVsbG8=",
    "set": "!!set {a, b}",
    "neg": "-7",
    "null": "null",
}
TOP_FIELDS = [
    "title",
    "prompt",
    "duration",
    "resolution",
    "fps",
    "style",
    "voice",
    "music",
    "seed",
    "segments",
]
SEGMENT_FIELDS = ["prompt", "narration", "duration", "first_keyframe", "last_keyframe"]


def wrong_types() -> Iterator[HostileCase]:
    for name in TOP_FIELDS:
        for label, value in WRONG_VALUES.items():
            body = f"{name}: {value}\n" + ("" if name == "prompt" else f"prompt: {SENTENCE}\n")
            yield text("type", f"{name}-{label}", body, expect="either", field=name)
    for name in SEGMENT_FIELDS:
        for label, value in WRONG_VALUES.items():
            first = "" if name == "prompt" else "    prompt: a\n"
            yield text(
                "segment-type",
                f"{name}-{label}",
                f"segments:\n  -\n{first}    {name}: {value}\n",
                expect="either",
                field=f"segments.0.{name}",
            )
    for label, value in [("string", "a scene"), ("int", "3"), ("list", "[a]"), ("null", "null")]:
        yield text("segment-type", f"item-{label}", f"segments:\n  - {value}\n", field="segments.0")


# 11. Unknown fields, tags, YAML oddities ----------------------------------------------------------
def unknown_and_tags() -> Iterator[HostileCase]:
    for key in [
        "colour",
        "Prompt",
        "prompt ",
        "ＰＲＯＭＰＴ",
        "k" * 300,
        '"a\\nb"',
        '"\\e[31mred"',
        "1",
        "null",
        "true",
        "'<<'",
    ]:
        yield text("unknown-field", key[:20], f"prompt: hi\n{key}: x\n", expect="either")
    yield text(
        "unknown-field",
        "in-segment",
        "segments:\n  - prompt: a\n    camera: pan\n",
        field="segments.0.camera",
    )
    yield text(
        "unknown-field", "duplicate-keys", f"prompt: a\nprompt: {SENTENCE}\n", expect="either"
    )
    for tag in [
        "!!python/object:os.system",
        "!!python/object/apply:os.system [ls]",
        "!!python/name:os.system",
        "!!python/module:os",
        "!!python/object/new:str [x]",
        "!!python/tuple [a]",
        "!custom x",
        "!<tag:example.com,2000:x> y",
        "!!omap [a: 1]",
        "!!pairs [a: 1]",
        "!!timestamp 2001-01-01",
        "!!str 42",
        "!!int '3'",
        "!!float abc",
        "!!merge x",
        "!!value x",
    ]:
        expect = (
            "plan"
            if tag == "!!str 42"
            else "either"
            if tag.startswith(("!!omap", "!!pairs", "!!timestamp", "!!int"))
            else "error"
        )
        yield text(
            "tag",
            tag.split(" ")[0][:30],
            f"title: {tag}\nprompt: {SENTENCE}\n",
            expect=expect,
            field="title",
        )
    yield text("yaml", "empty", "", field=None)
    yield text("yaml", "comments-only", "# nothing here\n")
    yield text("yaml", "two-documents", f"prompt: a\n---\nprompt: {SENTENCE}\n")
    yield text("yaml", "top-list", "- prompt: hi\n")
    yield text("yaml", "top-scalar", "just a string\n")
    yield text("yaml", "json-flow", json.dumps({"prompt": SENTENCE, "fps": 12}), expect="plan")
    yield text("yaml", "tab-indent", "segments:\n\t- prompt: a\n")
    yield text("yaml", "unclosed-quote", 'prompt: "never closed\n', field="prompt")
    yield text(
        "yaml",
        "merge-ok",
        f"base: &b {{prompt: {SENTENCE}}}\nsegments:\n  - <<: *b\n    duration: 3\n",
        expect="error",
    )
    yield text(
        "yaml", "anchors-no-aliases", f"prompt: &p {SENTENCE}\ntitle: &t Sea\n", expect="plan"
    )
    yield text("yaml", "directive", f"%YAML 1.1\n---\nprompt: {SENTENCE}\n", expect="plan")
    yield text("yaml", "bad-directive", f"%YAML 9.9\n---\nprompt: {SENTENCE}\n", expect="either")
    yield text("yaml", "complex-key", f"? [a, b]\n: c\nprompt: {SENTENCE}\n")
    yield text(
        "yaml",
        "keyframes-disagree",
        yaml_doc(
            segments=[{"prompt": "a", "last_keyframe": "x"}, {"prompt": "b", "first_keyframe": "y"}]
        ),
    )
    yield text(
        "yaml",
        "segment-without-prompt",
        "segments:\n  - narration: hi\n",
        field="segments.0.prompt",
    )


# 12. File names ---------------------------------------------------------------------------------
def file_names() -> Iterator[HostileCase]:
    bad = "prompt: hi\nfps: 99\n"
    for name in [
        "new\nline.yaml",
        "esc\x1b[31m.yaml",
        "tab\tname.yaml",
        "ünï cødé ñ.yaml",
        "....yaml",
        "-rf.yaml",
        "UPPER.YAML",
        "mixed.Yml",
        "a b c.txt",
        "x" * 200 + ".yaml",
        "semi;colon.yaml",
    ]:
        content = bad if name.endswith((".yaml", ".YAML", ".Yml")) else "\x00"
        yield HostileCase(
            "file-name",
            name[:12],
            content.encode(),
            suffix="",
            name=name,
            field="fps" if "fps" in content else "prompt",
        )
    yield HostileCase(
        "file-name",
        "undecodable",
        bad.encode(),
        suffix="",
        name=os.fsdecode(b"bad\xff\xfe.yaml"),
        field="fps",
    )
    yield HostileCase("file-name", "markdown", b"prompt: hi\n", suffix=".md")
    yield HostileCase("file-name", "no-suffix", b"prompt: hi\n", suffix="")


# 13. Symlinks, FIFOs, directories and render-name collisions ---------------------------------
GOOD = f"prompt: {SENTENCE}\n".encode()


def links_and_collisions() -> Iterator[HostileCase]:
    yield HostileCase("symlink", "loop", b"", link="{self}")
    yield HostileCase("symlink", "dangling", b"", link="missing-target.yaml")
    yield HostileCase("symlink", "to-dev-zero", b"", suffix=".txt", link="/dev/zero")
    yield HostileCase("symlink", "to-dev-urandom", b"", link="/dev/urandom")
    yield HostileCase("symlink", "to-directory", b"", link=".")
    yield HostileCase("symlink", "to-sibling", GOOD, link="link-target.yaml", expect="plan")
    # A file outside the folder: fine for `longvid render`, the watched folder must refuse it
    # (`prompts.is_safe_prompt_path`); one file's validation cannot tell.
    yield HostileCase("symlink", "outside", GOOD, link="../outside-target.yaml", expect="either")
    yield HostileCase("special", "fifo", b"", special="fifo")
    yield HostileCase("special", "directory", b"", special="directory")
    # Each is a good file; together they share render names (`prompts.check_render_names`).
    for name in ["Case.yaml", "case.yaml", "CASE.yml", "case.txt", "uni.yaml", "ünï.yaml"]:
        content = SENTENCE.encode() if name.endswith(".txt") else GOOD
        yield HostileCase(
            "collision", name, content, suffix="", name=name, subfolder="collisions", expect="plan"
        )


BUILDERS = [
    alias_bombs,
    deep_nesting,
    huge_scalars,
    long_words,
    sizes_and_counts,
    extremes,
    control_characters,
    surrogates,
    voices_and_moods,
    encodings,
    wrong_types,
    unknown_and_tags,
    file_names,
    links_and_collisions,
]


def hostile_cases() -> list[HostileCase]:
    return [case for build in BUILDERS for case in build()]


def write_hostile_files(folder: Path) -> list[HostileCase]:
    """Write every case into `folder` (a sparse file where `sparse_size` is set, a symlink
    where `link` is, a FIFO or directory where `special` is) and return the cases with their
    `path` set. Files are numbered so no two collide, except in a case's `subfolder`."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = hostile_cases()
    for index, case in enumerate(cases):
        if case.subfolder is not None:
            (folder / case.subfolder).mkdir(exist_ok=True)
            case.path = folder / case.subfolder / case.name
        elif case.name is not None:
            case.path = folder / f"{index:03d}-{case.name}"
        else:
            label = "".join(c if c.isalnum() or c in "-._" else "_" for c in case.label)[:40]
            case.path = folder / f"{index:03d}-{case.kind}-{label}{case.suffix}"
        _write(case, folder)
    return cases


def _write(case: HostileCase, folder: Path) -> None:
    if case.link is not None:
        target = case.path.name if case.link == "{self}" else case.link
        if case.content:
            (folder / target).write_bytes(case.content)
        case.path.symlink_to(target)
    elif case.special == "fifo":
        os.mkfifo(case.path)
    elif case.special == "directory":
        case.path.mkdir()
    elif case.sparse_size is not None:
        with open(case.path, "wb") as handle:
            handle.truncate(case.sparse_size)
    else:
        case.path.write_bytes(case.content)
