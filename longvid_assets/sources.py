"""Where a render's prompt file is: the recorded source, else the watched prompts folder."""

from pathlib import Path

from longvid_assets.errors import LongvidError
from longvid_assets.prompts import PROMPT_SUFFIXES, render_name
from longvid_assets.resources.store import ArtifactStore


def prompt_files(folder: Path) -> list[Path]:
    """Prompt files directly in `folder`, sorted; hidden and temp files skipped."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in PROMPT_SUFFIXES and not p.name.startswith(".")
    )


def find_prompt_file(render: str, store: ArtifactStore, prompts_dir: str) -> Path:
    recorded = store.source_of(render)
    if recorded is not None and recorded.is_file():
        return recorded
    for path in prompt_files(Path(prompts_dir)):
        if render_name(path) == render:
            return path
    if recorded is not None:
        raise LongvidError(
            f"render '{render}': its prompt file {recorded} is gone — restore it or render another"
        )
    raise LongvidError(
        f"render '{render}': no prompt file found — run `longvid render PATH` or put "
        f"'{render}.yaml' in {prompts_dir}/"
    )
