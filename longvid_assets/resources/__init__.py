"""Backend registry: which implementation each YAML `backend:` name selects.

Each entry is "module:Class", imported only when a config selects it, so the definitions
never import a heavy library (diffusers, transformers) that the config does not use.
"""

BACKENDS: dict[str, dict[str, str]] = {
    "store": {"local": "longvid_assets.resources.store:LocalArtifactStore"},
    "planner": {
        "offline": "longvid_assets.resources.planner:OfflinePlanner",
        "openai": "longvid_assets.resources.openai_planner:OpenAIPlanner",
    },
    "image_generator": {"storyboard": "longvid_assets.resources.images:StoryboardImageGenerator"},
    "video_generator": {"animatic": "longvid_assets.resources.video:AnimaticVideoGenerator"},
    "captioner": {"measured": "longvid_assets.resources.captioner:MeasuredCaptioner"},
    "speech": {"piper": "longvid_assets.resources.speech:PiperSpeech"},
    "music": {"synth": "longvid_assets.resources.music:SynthMusic"},
    "mixer": {"ffmpeg": "longvid_assets.resources.mixer:AudioMixer"},
}
