"""Planners: split a prompt into segments with keyframes, narration and timing."""

from dataclasses import dataclass

from longvid_assets.embedded.scenes import plan_scenes
from longvid_assets.plan import RenderDefaults, SegmentDraft
from longvid_assets.prompts import PromptSpec
from longvid_assets.resources.base import BackendResource


@dataclass
class PlanDraft:
    """What a planner returns: segment drafts and the mood it suggests for the music."""

    segments: list[SegmentDraft]
    music_mood: str
    title: str | None = None


class Planner(BackendResource):
    """Interface: `plan(spec, defaults) -> PlanDraft`."""

    def plan(self, spec: PromptSpec, defaults: RenderDefaults) -> PlanDraft:
        raise NotImplementedError


class OfflinePlanner(Planner):
    """Embedded: splits the prompt into scenes by paragraphs and sentences, no model."""

    backend_name = "offline"
    tier = "embedded"

    def plan(self, spec: PromptSpec, defaults: RenderDefaults) -> PlanDraft:
        segments, mood = plan_scenes(spec.prompt, defaults)
        return PlanDraft(segments, mood)
