"""Issue 10, hostile input: every prompt file `hostile_files.py` generates (alias bombs, deep
nesting, huge scalars, control characters, surrogates, absurd durations and counts, unknown
voices and moods, symlinks, FIFOs, name collisions, ...) goes through the shared validation,
each in a forked child under a time bound, a peak-memory bound and an address-space limit
(a blow-up fails that case cleanly instead of taking the machine). Each ends as one
printable line naming the file and the field, or as a plan within the render limits.

The validation is two layers, both run for every file:
- the gate `longvid render` (`load_prompt_file`) and the prompt-folder sensor
  (`sensors.check_prompt_file`, which starts with it) apply before anything is written;
- `plan.validate_prompt_file`: that, the render limits, music, voice, and the plan itself.
A file the gate refuses must be refused by the full validation with the same line, and a
file the full validation plans must pass the gate.

A few go end to end: `longvid render` as a subprocess (exit 2, exactly one stderr line, no
DAGSTER_HOME touched) and the prompt-folder sensor with hostile files beside good ones.
"""

import contextlib
import dataclasses
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import yaml
from dagster import build_sensor_context

from longvid_assets.errors import LongvidError
from longvid_assets.limits import printable, shown
from longvid_assets.plan import RenderDefaults, validate_prompt_file
from longvid_assets.prompts import check_render_names, load_prompt_file, render_name
from longvid_assets.resources.speech import PiperSpeech
from longvid_assets.sensors import build_prompt_folder_sensor, check_prompt_file, scan_prompt_folder
from longvid_assets_tests.hostile_files import HostileCase, write_hostile_files
from longvid_assets_tests.rerun_helpers import tiny_prompt, write_prompt

DEFAULTS = RenderDefaults()  # the embedded config's render defaults and limits
LIMITS = DEFAULTS.limits
SPEECH = PiperSpeech()  # the embedded speech backend's voice pre-flight (two stat calls)
TIME_BOUND_S = 5.0  # CPU seconds per file, both layers (the slowest takes ~1.5 s)
HARD_TIMEOUT_S = 30.0  # a child still running then is killed and reported
PEAK_BOUND_MB = 256  # resident memory a file may add while it is validated
ADDRESS_SPACE_HEADROOM = 1 << 30  # RLIMIT_AS: a blow-up raises MemoryError in the child
MAX_MESSAGE_CHARS = 1000  # beyond the file name: no expanded value is ever quoted
WORKERS = max(1, min(2, os.cpu_count() or 1))


# ----------------------------------------------------------------------- the forked child


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def _attempt(call) -> dict:
    """How one call ended: a plan / a passed gate, a LongvidError, or anything else."""
    try:
        value = call()
    except LongvidError as exc:
        message = str(exc)
        return {
            "outcome": "error",
            "type": type(exc).__name__,
            "message": message[:4000],
            "length": len(message),
        }
    except BaseException as exc:  # what must never escape: reported, never raised here
        return {"outcome": "other", "type": type(exc).__name__, "message": repr(exc)[:300]}
    if value is None or not hasattr(value, "segments") or not hasattr(value, "render"):
        return {"outcome": "pass"}
    segments = value.segments
    return {
        "outcome": "plan",
        "segments": len(segments),
        "duration_s": value.duration_s,
        "pixels": value.resolution[0] * value.resolution[1] * value.total_frames,
        "title_chars": len(value.title),
        "narration_chars": max(len(seg.narration) for seg in segments),
        "field_chars": max(
            len(text)
            for seg in segments
            for text in (seg.prompt, seg.first_keyframe, seg.last_keyframe)
        ),
    }


def _measure(path: Path) -> dict:
    """In the child: both layers on one file, timed, with the peak resident memory they add."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _status_kb("VmSize") * 1024 + ADDRESS_SPACE_HEADROOM
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    with contextlib.suppress(OSError):  # peak RSS from here (a fork starts at its RSS anyway)
        Path("/proc/self/clear_refs").write_text("5")
    rss = _status_kb("VmRSS")
    started, cpu = time.perf_counter(), time.process_time()
    gate = _attempt(lambda: check_prompt_file(path))
    result = _attempt(lambda: validate_prompt_file(path, DEFAULTS, check_voice=SPEECH.check_voice))
    result["seconds"] = time.process_time() - cpu  # CPU: the bound holds on a busy machine
    result["wall_s"] = time.perf_counter() - started
    result["peak_mb"] = max(0, _status_kb("VmHWM") - rss) / 1024
    result["gate"] = gate
    return result


def _child(path: Path, write_fd: int) -> None:
    code = 1
    try:
        payload = json.dumps(_measure(path)).encode()
        with os.fdopen(write_fd, "wb") as out:
            out.write(payload)
        code = 0
    finally:
        os._exit(code)  # never return into pytest


def _ended(chunks: list[bytes], status: int, seconds: float) -> dict:
    if os.WIFSIGNALED(status) or not chunks:
        how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else "no result"
        return {
            "outcome": "other",
            "type": f"child died ({how})",
            "message": "",
            "seconds": seconds,
        }
    return json.loads(b"".join(chunks))


def validate_isolated(paths: list[Path]) -> list[dict]:
    """`_measure` each path in its own forked child, `WORKERS` at a time; a child past
    `HARD_TIMEOUT_S` is killed and reported as such."""
    results: list[dict | None] = [None] * len(paths)
    pending = list(enumerate(paths))
    running: dict[int, list] = {}  # read fd -> [index, pid, started, chunks]
    while pending or running:
        while pending and len(running) < WORKERS:
            index, path = pending.pop(0)
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                _child(path, write_fd)
            os.close(write_fd)
            running[read_fd] = [index, pid, time.monotonic(), []]
        ready, _, _ = select.select(list(running), [], [], 0.5)
        for fd in ready:
            chunk = os.read(fd, 1 << 16)
            if chunk:
                running[fd][3].append(chunk)
                continue
            index, pid, started, chunks = running.pop(fd)
            os.close(fd)
            _, status = os.waitpid(pid, 0)
            results[index] = _ended(chunks, status, time.monotonic() - started)
        for fd, (index, pid, started, _) in list(running.items()):
            if time.monotonic() - started > HARD_TIMEOUT_S:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                os.close(fd)
                del running[fd]
                results[index] = {
                    "outcome": "other",
                    "type": f"killed after {HARD_TIMEOUT_S:.0f} s",
                    "message": "",
                    "seconds": HARD_TIMEOUT_S,
                }
    return results


# ------------------------------------------------------------------------------- checks


def names_field(message: str, field: str) -> bool:
    """`field 'resolution'`, or a part of it (`field 'resolution.1'`)."""
    return f"field '{field}'" in message or f"field '{field}." in message


def line_problems(case: HostileCase, outcome: dict) -> list[str]:
    """What is wrong with an error line: more than one line, unprintable, not naming the
    file or the field, quoting too much."""
    message, problems = outcome["message"], []
    if "\n" in message or "\r" in message:
        problems.append("more than one line")
    if printable(message) != message:
        problems.append("unprintable characters")
    if shown(case.path) not in message:
        problems.append("does not name the file")
    if case.field and not names_field(message, case.field):
        problems.append(f"does not name field '{case.field}'")
    if outcome["length"] - len(shown(case.path)) > MAX_MESSAGE_CHARS:
        problems.append(f"{outcome['length']:,} characters long")
    return problems


def plan_problems(outcome: dict) -> list[str]:
    """A plan beyond the render limits (`limits.RenderLimits`)."""
    bounds = [
        ("segments", LIMITS.max_segments),
        ("duration_s", LIMITS.max_total_s),
        ("pixels", LIMITS.max_pixels_per_render),
        ("title_chars", LIMITS.max_title_chars),
        ("narration_chars", LIMITS.max_narration_chars),
        ("field_chars", LIMITS.max_field_chars),
    ]
    return [
        f"plan {key} {outcome[key]:,} > {bound:,}" for key, bound in bounds if outcome[key] > bound
    ]


def case_problems(case: HostileCase, result: dict) -> list[str]:
    problems = []
    outcome, gate = result["outcome"], result.get("gate", {})
    # 1. Bounded, and nothing but a LongvidError or a plan.
    if outcome == "other":
        problems.append(f"escaped as {result['type']}: {result['message']}")
    if gate.get("outcome") == "other":
        problems.append(f"the gate let {gate['type']} escape: {gate['message']}")
    if result["seconds"] > TIME_BOUND_S:
        problems.append(f"took {result['seconds']:.2f} s of CPU")
    if result.get("peak_mb", 0) > PEAK_BOUND_MB:
        problems.append(f"added {result['peak_mb']:.0f} MB")
    # 2. As expected.
    if case.expect in ("error", "plan") and outcome in ("error", "plan") and outcome != case.expect:
        problems.append(f"expected {case.expect}, got {outcome}: {result.get('message', '')}")
    if outcome == "error":
        problems += line_problems(case, result)
    if outcome == "plan":
        problems += plan_problems(result)
    # 3. The two layers agree: the gate's line is the validation's line; a plan passes it.
    if gate.get("outcome") == "error":
        problems += [f"gate: {problem}" for problem in line_problems(case, gate)]
        if outcome == "error" and gate["message"] != result["message"]:
            problems.append(f"gate says {gate['message']!r}, validation {result['message']!r}")
        if outcome == "plan":
            problems.append("the gate refuses a file the validation plans")
    return problems


def summarize(cases: list[HostileCase], results: list[dict]) -> str:
    rows: dict[str, Counter] = defaultdict(Counter)
    for case, result in zip(cases, results, strict=True):
        outcome = result["outcome"]
        rows[case.kind]["clean error" if outcome == "error" else outcome] += 1
        if outcome == "error" and result["gate"]["outcome"] == "pass":
            rows[case.kind]["after gate"] += 1
    total = sum(rows.values(), Counter())
    lines = [f"{'kind':<18}{'clean error':>12}{'plan':>6}{'other':>7}{'after gate':>12}"]
    for kind, row in [*sorted(rows.items()), ("TOTAL", total)]:
        lines.append(
            f"{kind:<18}{row['clean error']:>12}{row['plan']:>6}{row['other']:>7}"
            f"{row['after gate']:>12}"
        )
    slow = max(range(len(cases)), key=lambda i: results[i]["seconds"])
    big = max(range(len(cases)), key=lambda i: results[i].get("peak_mb", 0))
    lines.append(
        f"slowest: {cases[slow].kind}/{cases[slow].label!r} {results[slow]['seconds']:.3f} s "
        f"CPU, {results[slow].get('wall_s', 0):.3f} s wall (bound {TIME_BOUND_S} s CPU); "
        f"largest peak: {cases[big].kind}/{cases[big].label!r} "
        f"+{results[big].get('peak_mb', 0):.1f} MB (bound {PEAK_BOUND_MB} MB); "
        f"{len(cases)} files"
    )
    lines.append("(after gate: refused by validate_prompt_file only, not by load_prompt_file)")
    return "\n".join(lines)


# -------------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> list[HostileCase]:
    return write_hostile_files(tmp_path_factory.mktemp("hostile") / "prompts")


@pytest.mark.slow
def test_every_hostile_file_ends_as_one_clean_line_or_a_plan_within_bounds(hostile):
    assert len(hostile) >= 300
    _warm_up(hostile[0].path.parent.parent)
    started = time.perf_counter()
    results = validate_isolated([case.path for case in hostile])
    elapsed = time.perf_counter() - started
    print(f"\n{summarize(hostile, results)}\nwall time {elapsed:.1f} s with {WORKERS} workers")
    failures = [
        f"{case.kind}/{case.label!r} ({shown(case.path.name)}): {'; '.join(problems)}"
        for case, result in zip(hostile, results, strict=True)
        if (problems := case_problems(case, result))
    ]
    assert not failures, f"{len(failures)} hostile files failed:\n" + "\n".join(failures[:40])
    outcomes = Counter(result["outcome"] for result in results)
    assert outcomes["error"] > 200 and outcomes["plan"] > 40 and outcomes["other"] == 0


def _warm_up(folder: Path) -> None:
    """Load what validation imports lazily (planner, moods, voices) before forking, so no
    child's time includes an import."""
    good = folder / "warm-up.yaml"
    good.write_text('prompt: "A lighthouse on a cliff.\\n\\nWaves below."\nmusic: auto\n')
    assert validate_prompt_file(good, DEFAULTS, check_voice=SPEECH.check_voice).segments


def test_a_blow_up_in_a_child_is_reported_not_fatal(tmp_path, monkeypatch):
    """The harness itself: what escapes validation (here a MemoryError under the child's
    address-space limit) is a reported case, not a crashed test run."""
    good = tmp_path / "good.yaml"
    good.write_text("prompt: A lighthouse on a cliff.\n")

    def explode(path, defaults, check_voice=None):
        return bytearray(ADDRESS_SPACE_HEADROOM * 2)  # over the child's address space

    monkeypatch.setattr(sys.modules[__name__], "validate_prompt_file", explode)
    (result,) = validate_isolated([good])
    assert result["outcome"] == "other" and result["type"] == "MemoryError"
    assert result["gate"]["outcome"] == "pass"
    assert case_problems(HostileCase("x", "x", b"", path=good), result)[0].startswith(
        "escaped as MemoryError"
    )


def test_render_name_collisions_are_one_line_each(hostile):
    collisions = [case for case in hostile if case.kind == "collision"]
    folder = collisions[0].path.parent
    errors = check_render_names(sorted(folder.iterdir()))
    assert len(errors) == 2, errors  # case.yaml and friends; uni.yaml and ünï.yaml
    for error in errors:
        assert "\n" not in error and "rename all but one" in error
    case_line = next(error for error in errors if "'case'" in error)
    for name in ["Case.yaml", "case.yaml", "CASE.yml", "case.txt"]:
        assert str(folder / name) in case_line
    uni_line = next(error for error in errors if "'uni'" in error)
    assert str(folder / "ünï.yaml") in uni_line and str(folder / "uni.yaml") in uni_line
    newline = hostile[0].path.parent / "new\nline.yaml"
    (message,) = check_render_names([newline, newline.with_suffix(".txt")])
    assert "\n" not in message and "new\\nline.yaml" in message and "new\\nline.txt" in message


# A handful end to end: one of each kind the gate refuses (label prefixes).
END_TO_END = [
    ("alias-bomb", "laughs-9x9"),
    ("deep", "flow-list-100000"),
    ("size", "yaml-2gib-sparse"),
    ("control", "escape-1b"),
    ("encoding", "utf-16-le-bom"),
    ("file-name", "new\nline.yam"),
    ("special", "fifo"),
]


def pick(hostile: list[HostileCase], wanted) -> list[HostileCase]:
    by_label = {(case.kind, case.label): case for case in hostile}
    return [by_label[key] for key in wanted]


@pytest.mark.slow
def test_longvid_render_exits_2_with_one_line_for_hostile_files(hostile, tmp_path):
    """`longvid render FILE` as a user runs it: exit 2, exactly one stderr line (the same
    line the shared validation gives), nothing on stdout, DAGSTER_HOME never created."""
    home = tmp_path / "dagster_home"
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONWARNINGS": "ignore"}
    env.pop("LONGVID_CONFIG", None)
    cases = pick(hostile, END_TO_END)
    processes = []
    for case in cases:  # all at once: each spends most of its time importing
        command = [sys.executable, "-m", "longvid_assets.cli", "render", str(case.path)]
        processes.append(
            subprocess.Popen(
                command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        )
    for case, process in zip(cases, processes, strict=True):
        stdout, stderr = process.communicate(timeout=120)
        with pytest.raises(LongvidError) as caught:
            load_prompt_file(case.path)
        lines = stderr.decode("utf-8", "backslashreplace").splitlines()
        assert process.returncode == 2, (case.label, lines)
        assert lines == [f"longvid: error: {caught.value}"], case.label
        assert stdout == b""
    assert not home.exists(), "a hostile file got as far as DAGSTER_HOME"


# Hostile files beside good ones in the watched folder: each refused by the sensor's check.
# Not the 2 GiB sparse file: the sensor hashes a file (`sensors.content_hash`) by reading it
# whole before any check, 2 GiB of memory for it.
BESIDE_GOOD = [
    *[key for key in END_TO_END[:5] if key[0] != "size"],
    ("alias-bomb", "recursive-list"),
    ("huge", "prompt-600k-plain"),
    ("size", "txt-1000001-bytes"),
    ("surrogate", "title-ud800"),
    ("control", "raw-txt-1b"),
    ("type", "fps-list"),
    ("segment-type", "item-string"),
    ("tag", "!!python/object/apply:os.syste"),
    ("yaml", "two-documents"),
    ("yaml", "keyframes-disagree"),
    ("encoding", "random-bytes"),
    ("file-name", "esc\x1b[31m.yam"),
]


@pytest.mark.slow
def test_prompt_folder_sensor_requests_good_files_and_logs_one_line_per_bad_one(
    hostile, tmp_path, longvid_env
):
    config, instance, _ = longvid_env
    folder = tmp_path / "prompts"
    folder.mkdir()
    bad = [  # copies: the module's other tests use the originals
        dataclasses.replace(case, path=Path(shutil.copyfile(case.path, folder / case.path.name)))
        for case in pick(hostile, BESIDE_GOOD)
    ]
    for name in ["coast.yaml", "forest.yaml"]:
        write_prompt(folder / name, tiny_prompt(2, variant=name))
    (folder / "story.txt").write_text("A lighthouse at dusk.\n\nThe lamp turns.\n")
    # The render 'coast' again: 'Coast.yml' sorts first and keeps it.
    (folder / "Coast.yml").write_text(yaml.safe_dump(tiny_prompt(1)))
    good = ["coast", "forest", "story"]
    expected = {}
    for case in bad:
        with pytest.raises(LongvidError) as caught:
            validate_prompt_file(case.path, DEFAULTS)
        expected[shown(case.path)] = f"{caught.value} (skipped until the file changes)"
    expected[str(folder / "coast.yaml")] = (
        f"{folder / 'coast.yaml'}: render name 'coast' is taken by Coast.yml — rename "
        "one file (skipped until the file changes)"
    )

    # 1. One scan: the good files are requested; each bad one is one line, the same line
    #    the shared validation gives, naming its file.
    config.sensor.prompts_dir = str(folder)
    store = config.resources["store"]
    scan = scan_prompt_folder(folder, {}, store)
    assert sorted(r.partition_key for r in scan.run_requests) == good
    assert len(scan.messages) == len(expected)
    for message in scan.messages:
        assert "\n" not in message and printable(message) == message, message
        (name,) = [name for name in expected if message.startswith(f"{name}:")]
        assert message == expected[name]
    # 2. The sensor itself, as the daemon evaluates it: the same requests and warnings.
    sensor_def = build_prompt_folder_sensor(config)
    context = build_sensor_context(instance=instance, cursor=None)
    warnings: list[str] = []
    context.log.warning = warnings.append
    result = sensor_def(context)
    assert sorted(r.partition_key for r in result.run_requests) == good
    assert sorted(warnings) == sorted(scan.messages)
    # 3. The next tick: silent, nothing requested, the bad files stay skipped.
    again = build_sensor_context(instance=instance, cursor=result.cursor)
    again_warnings: list[str] = []
    again.log.warning = again_warnings.append
    assert list(sensor_def(again).run_requests or []) == [] and again_warnings == []
    assert all(render_name(case.path) not in good for case in bad)
