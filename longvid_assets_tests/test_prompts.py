"""Prompt files: valid ones load; each malformed one gives one clear line naming file and field."""

from pathlib import Path

import pytest

from longvid_assets.cli import main
from longvid_assets.errors import PromptFileError
from longvid_assets.prompts import load_prompt_file, render_name

GOOD = "title: Test\nprompt: A red fox runs through snow.\nresolution: [320, 180]\nfps: 12\n"

# (file name, content, words the one-line error must contain)
MALFORMED = [
    ("unknown.yaml", "prompt: hi\ncolour: red\n", ["'colour'", "unknown field", "allowed fields"]),
    ("odd.yaml", "prompt: hi\nresolution: [641, 360]\n", ["'resolution'", "odd", "even"]),
    ("tiny.yaml", "prompt: hi\nresolution: [32, 32]\n", ["'resolution'", "32 px", "64"]),
    ("three.yaml", "prompt: hi\nresolution: [64, 64, 64]\n", ["'resolution'", "two"]),
    ("fps0.yaml", "prompt: hi\nfps: 0\n", ["'fps'", "1 to 60"]),
    ("fps120.yaml", "prompt: hi\nfps: 120\n", ["'fps'", "1 to 60"]),
    ("blank.yaml", "prompt: '   '\n", ["'prompt'", "empty"]),
    ("blank.txt", "  \n\n ", ["'prompt'", "empty"]),
    ("noprompt.yaml", "title: x\n", ["'prompt'", "required"]),
    ("list.yaml", "- prompt: hi\n", ["not a mapping", "key: value"]),
    ("empty.yaml", "", ["empty", "not a mapping"]),
    ("syntax.yaml", "prompt: [unclosed\n", ["YAML syntax error", "line"]),
    ("duration.yaml", "prompt: hi\nduration: -5\n", ["'duration'", "seconds"]),
    ("segs.yaml", "prompt: hi\nsegments: []\n", ["'segments'", "empty list"]),
    (
        "segfield.yaml",
        "prompt: hi\nsegments:\n  - prompt: a\n    camera: pan\n",
        ["segments.0.camera"],
    ),
    (
        "segdur.yaml",
        "prompt: hi\nsegments:\n  - prompt: a\n    duration: 500\n",
        ["segments.0.duration"],
    ),
    ("seed.yaml", "prompt: hi\nseed: -1\n", ["'seed'", "0"]),
    ("notes.md", "prompt: hi\n", ["unknown file type", ".yaml"]),
    ("my story.v2 – ñandú.yaml", "prompt: hi\nfps: 99\n", ["my story.v2 – ñandú.yaml", "'fps'"]),
]


def write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_valid_yaml_and_txt_load(tmp_path):
    spec = load_prompt_file(write(tmp_path, "good.yaml", GOOD))
    assert spec.title == "Test" and spec.resolution == (320, 180) and spec.fps == 12
    txt = load_prompt_file(write(tmp_path, "story.txt", "One.\n\nTwo."))
    assert txt.prompt == "One.\n\nTwo." and txt.fps is None


@pytest.mark.parametrize("name,content,words", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_prompt_file_one_line_error(tmp_path, name, content, words):
    path = write(tmp_path, name, content)
    with pytest.raises(PromptFileError) as caught:
        load_prompt_file(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert " — " in message, "every error says how to fix it"
    for word in words:
        assert word in message


def test_non_utf8_and_oversized_files(tmp_path):
    bad = write(tmp_path, "latin.yaml", "prompt: caf\xe9\n".encode("latin-1"))
    with pytest.raises(PromptFileError, match=r"not UTF-8 .* save the file as UTF-8"):
        load_prompt_file(bad)
    big = write(tmp_path, "big.txt", "word " * 250_000)
    with pytest.raises(PromptFileError, match=r"over the 1 MB limit"):
        load_prompt_file(big)
    with pytest.raises(PromptFileError, match="no such file"):
        load_prompt_file(tmp_path / "missing.yaml")


def test_render_names_are_safe_and_distinct():
    assert render_name("prompts/example.yaml") == "example"
    odd = render_name("my story.v2 – ñandú.yaml")
    assert all(c.isascii() and (c.isalnum() or c in "_-") for c in odd)
    assert render_name("a b.yaml") != render_name("a_b.yaml")
    assert render_name("../../etc/passwd.txt") == "passwd"
    assert render_name("....yaml").startswith("render_")


def test_cli_rejects_malformed_files_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    (tmp_path / "in").mkdir()
    for name, content, _ in MALFORMED:
        path = write(tmp_path / "in", name, content)
        before = sorted(p for p in tmp_path.rglob("*"))
        assert main(["render", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and str(path) in err and "Traceback" not in err
        assert sorted(p for p in tmp_path.rglob("*")) == before, f"{name}: files were written"
