"""audio_tracks [render]: narration per segment, a music bed, mixed to the video timeline.

Narration rule: never cut words off. Speech longer than its segment's slot is spoken faster
(see `fit_narration`), and the segment keeps its planned length, so picture timing never
depends on the voice. Each narration and the music bed are stored by fingerprint, so a
narration-only edit re-synthesizes just that segment's speech, then re-mixes.
"""

import json
from pathlib import Path

from dagster import AssetExecutionContext, DataVersion, Output, asset

from longvid_assets.artifacts import MIX_FILE, ArtifactRef
from longvid_assets.assets.common import Timer, artifact_location, stage_metadata, user_errors
from longvid_assets.fingerprint import CODE_VERSIONS, audio_fp, music_fp, narration_fp
from longvid_assets.media.audio import NarrationPlacement, fit_narration
from longvid_assets.partitions import renders_partitions
from longvid_assets.plan import NARRATION_PAD_S, RenderPlan
from longvid_assets.records import AudioRecord, NarrationTiming
from longvid_assets.resources.mixer import AudioMixer
from longvid_assets.resources.music import MusicGenerator
from longvid_assets.resources.speech import SpeechSynthesizer
from longvid_assets.resources.store import ArtifactStore

LEAD_IN_S = 0.3


def narrate_segment(
    plan: RenderPlan, index: int, speech: SpeechSynthesizer, store: ArtifactStore, log
) -> tuple[Path, dict, bool]:
    """The segment's narration WAV and its timing sidecar; synthesized unless stored."""
    seg = plan.segments[index]
    fp = narration_fp(plan, index, speech.identity())
    if store.has("narration", fp, "narration.json") and store.has("narration", fp, "narration.wav"):
        info = json.loads(store.artifact_path("narration", fp, "narration.json").read_text())
        return store.artifact_path("narration", fp, "narration.wav"), info, True
    slot = max(seg.duration_s - NARRATION_PAD_S, 0.6 * seg.duration_s)
    with store.writing("narration", fp, "narration.wav") as tmp:
        fitted = fit_narration(speech, seg.narration, plan.voice, slot, tmp)
    info = fitted.model_dump() if hasattr(fitted, "model_dump") else dict(fitted.__dict__)
    if info.get("length_scale", 1.0) != 1.0 or info.get("tempo", 1.0) != 1.0:
        log.warning(
            f"segment {seg.key}: narration sped up to fit {slot:.2f} s "
            f"(length_scale {info.get('length_scale')}, tempo {info.get('tempo')}); "
            "lengthen the segment's duration for a natural pace"
        )
    with store.writing("narration", fp, "narration.json") as tmp:
        tmp.write_text(json.dumps(info), encoding="utf-8")
    return store.artifact_path("narration", fp, "narration.wav"), info, False


def make_music(plan: RenderPlan, music: MusicGenerator, store: ArtifactStore) -> Path | None:
    if plan.music_mood == "none":
        return None
    fp = music_fp(plan, music.identity())
    if not store.has("music", fp, "music.wav"):
        with store.writing("music", fp, "music.wav") as tmp:
            music.generate(plan.music_mood, plan.duration_s, plan.seed, tmp)
    return store.artifact_path("music", fp, "music.wav")


@asset(
    partitions_def=renders_partitions,
    code_version=CODE_VERSIONS["audio_tracks"],
    group_name="longvid",
    kinds={"python"},
)
def audio_tracks(
    context: AssetExecutionContext,
    segment_plan: RenderPlan,
    speech: SpeechSynthesizer,
    music: MusicGenerator,
    mixer: AudioMixer,
    store: ArtifactStore,
) -> Output[AudioRecord]:
    """Narration placed on each segment's timeline over a ducked music bed, loudness-normalized."""
    timer, plan = Timer(), segment_plan
    fp = audio_fp(plan, speech.identity(), music.identity(), mixer.identity())
    with user_errors():
        # 1. Narration per segment (only changed ones are synthesized).
        placements, timings, synthesized = [], [], 0
        for seg in plan.segments:
            start = plan.start_s(seg.index)
            if not seg.narration.strip():
                continue
            wav, info, was_cached = narrate_segment(plan, seg.index, speech, store, context.log)
            synthesized += not was_cached
            lead = min(LEAD_IN_S, max(0.0, (seg.duration_s - info["duration_s"]) / 2))
            placements.append(NarrationPlacement(start_s=start + lead, path=wav))
            timings.append(
                NarrationTiming(
                    start_s=start + lead, duration_s=info["duration_s"], text=seg.narration
                )
            )
        # 2. Music bed for the whole render, 3. the mix.
        cached = store.has("audio", fp, MIX_FILE)
        lufs = None
        if not cached:
            bed = make_music(plan, music, store)
            with store.writing("audio", fp, MIX_FILE) as tmp:
                lufs = mixer.mix(placements, bed, plan.duration_s, tmp).integrated_lufs
    mix = ArtifactRef(folder="audio", fingerprint=fp, name=MIX_FILE)
    record = AudioRecord(
        mix=mix,
        fingerprint=fp,
        duration_s=plan.duration_s,
        narration=timings,
        integrated_lufs=lufs,
    )
    metadata = stage_metadata(
        speech,
        fp,
        cached,
        timer,
        artifact=artifact_location(store, mix),
        speech_backend=speech.made_by(),
        music_backend=music.made_by(),
        music_mood=plan.music_mood,
        narrations_synthesized=synthesized,
        narrations=len(timings),
        duration_s=round(plan.duration_s, 3),
        target_lufs=mixer.target_lufs,
        integrated_lufs=lufs,
    )
    return Output(record, data_version=DataVersion(fp), metadata=metadata)
