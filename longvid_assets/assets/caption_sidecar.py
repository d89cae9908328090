"""What each segment shows, for people: the render's captions as metadata and sidecars.

`final_video` calls `publish_captions`: it reads every segment's stored caption (by the
caption fingerprint `clip_captions` wrote it under), and, with `captioner.sidecar` on,
publishes beside the MP4

- `<render>.captions.json`: per segment its time span, prompt, caption, measured
  description and captioner;
- `<render>.descriptions.srt`: a text description track, one cue per segment.

Both are stored by a fingerprint of the final video's and the captions' fingerprints.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dagster import MetadataValue, TableColumn, TableRecord, TableSchema

from longvid_assets.artifacts import CAPTION_FILE
from longvid_assets.fingerprint import caption_fp, fingerprint
from longvid_assets.media.subtitles import Cue, to_srt
from longvid_assets.plan import RenderPlan
from longvid_assets.resources.captioner import Captioner
from longvid_assets.resources.images import ImageGenerator
from longvid_assets.resources.store import ArtifactStore
from longvid_assets.resources.video import VideoGenerator


@dataclass
class SegmentCaption:
    segment: str
    start_s: float
    end_s: float
    prompt: str
    caption: str | None  # None: clip_captions has not run for this segment's current clip
    measured: str | None
    backend: str | None
    fingerprint: str


@dataclass
class PublishedCaptions:
    captions: list[SegmentCaption]
    table: MetadataValue
    paths: dict[str, Path] = field(default_factory=dict)  # "captions_json", "descriptions_srt"

    @property
    def missing(self) -> list[str]:
        return [c.segment for c in self.captions if c.caption is None]


def stored_captions(
    plan: RenderPlan,
    captioner: Captioner,
    video: VideoGenerator,
    images: ImageGenerator,
    store: ArtifactStore,
) -> list[SegmentCaption]:
    captions = []
    for seg in plan.segments:
        fp = caption_fp(plan, seg.index, captioner.identity(), video.identity(), images.identity())
        stored = {}
        if store.has("captions", fp, CAPTION_FILE):
            stored = json.loads(store.artifact_path("captions", fp, CAPTION_FILE).read_text())
        start = plan.start_s(seg.index)
        captions.append(
            SegmentCaption(
                segment=seg.key,
                start_s=round(start, 3),
                end_s=round(start + plan.frame_count(seg.index) / plan.fps, 3),
                prompt=seg.prompt,
                caption=stored.get("caption"),
                measured=stored.get("measured"),
                backend=stored.get("backend"),
                fingerprint=fp,
            )
        )
    return captions


def captions_json(plan: RenderPlan, captions: list[SegmentCaption]) -> str:
    payload = {
        "render": plan.render,
        "title": plan.title,
        "duration_s": round(plan.duration_s, 3),
        "segments": [asdict(c) for c in captions],
    }
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def descriptions_srt(captions: list[SegmentCaption]) -> str:
    """One cue per captioned segment over its whole span: "[n] caption"."""
    cues = [
        Cue(c.start_s, c.end_s, f"[{int(c.segment) + 1}] {c.caption}")
        for c in captions
        if c.caption
    ]
    return to_srt(cues)


def captions_table(captions: list[SegmentCaption]) -> MetadataValue:
    schema = TableSchema(
        columns=[
            TableColumn("segment", "string"),
            TableColumn("start_s", "float"),
            TableColumn("end_s", "float"),
            TableColumn("caption", "string"),
            TableColumn("prompt", "string"),
        ]
    )
    records = [
        TableRecord(
            {
                "segment": c.segment,
                "start_s": c.start_s,
                "end_s": c.end_s,
                "caption": c.caption or "(not captioned yet: materialize clip_captions)",
                "prompt": c.prompt,
            }
        )
        for c in captions
    ]
    return MetadataValue.table(records=records, schema=schema)


def publish_captions(
    plan: RenderPlan,
    final_fp: str,
    captioner: Captioner,
    video: VideoGenerator,
    images: ImageGenerator,
    store: ArtifactStore,
) -> PublishedCaptions:
    """The captions table, and (with `captioner.sidecar`) the JSON and SRT sidecars."""
    captions = stored_captions(plan, captioner, video, images, store)
    published = PublishedCaptions(captions=captions, table=captions_table(captions))
    if not captioner.sidecar:
        return published
    fp = fingerprint("descriptions", final_fp, [(c.fingerprint, c.caption) for c in captions])
    render = plan.render
    files = {
        "captions_json": (
            "captions.json",
            f"{render}.captions.json",
            captions_json(plan, captions),
        ),
        "descriptions_srt": (
            "descriptions.srt",
            f"{render}.descriptions.srt",
            descriptions_srt(captions),
        ),
    }
    for key, (name, public, text) in files.items():
        if not store.has("descriptions", fp, name):
            with store.writing("descriptions", fp, name) as tmp:
                tmp.write_text(text, encoding="utf-8")
        artifact = store.artifact_path("descriptions", fp, name)
        published.paths[key] = store.publish(artifact, plan.render, public)
    return published
