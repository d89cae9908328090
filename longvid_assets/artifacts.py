"""Where each stage's artifacts live in the store, and the references assets pass around.

An artifact is addressed by (stage folder, fingerprint, file name); the store resolves that
to bytes on any host. Records handed from one asset to the next hold these references,
never local paths, so a run on another machine (or a Ray worker) can read them.
"""

from pydantic import BaseModel

PLAN_FILE = "plan.json"
KEYFRAME_FILE = "keyframe.png"
CLIP_FILE = "clip.mp4"
CAPTION_FILE = "caption.json"
MIX_FILE = "mix.wav"
FINAL_FILE = "video.mp4"

# stage -> (store folder, file name) of its main artifact.
STAGE_FILES = {
    "segment_plan": ("plans", PLAN_FILE),
    "keyframe_images": ("keyframes", KEYFRAME_FILE),
    "segment_clips": ("clips", CLIP_FILE),
    "clip_captions": ("captions", CAPTION_FILE),
    "audio_tracks": ("audio", MIX_FILE),
    "final_video": ("final", FINAL_FILE),
}


class ArtifactRef(BaseModel):
    """One stored file: `store.artifact_path(*ref.parts)` gives a verified local copy."""

    folder: str
    fingerprint: str
    name: str

    @property
    def parts(self) -> tuple[str, str, str]:
        return self.folder, self.fingerprint, self.name

    def __str__(self) -> str:
        return "/".join(self.parts)


def keyframe_ref(fp: str) -> ArtifactRef:
    return ArtifactRef(folder="keyframes", fingerprint=fp, name=KEYFRAME_FILE)


def clip_ref(fp: str) -> ArtifactRef:
    return ArtifactRef(folder="clips", fingerprint=fp, name=CLIP_FILE)


def caption_ref(fp: str) -> ArtifactRef:
    return ArtifactRef(folder="captions", fingerprint=fp, name=CAPTION_FILE)
