"""Backend registry: which implementation each YAML `backend:` name selects.

Each entry is "module:Class", imported only when a config selects it, so the definitions
never import a heavy library (diffusers, transformers) that the config does not use.
"""

BACKENDS: dict[str, dict[str, str]] = {
    "store": {
        "local": "longvid_assets.resources.store:LocalArtifactStore",
        "s3": "longvid_assets.resources.s3_store:S3ArtifactStore",
    },
    "planner": {
        "offline": "longvid_assets.resources.planner:OfflinePlanner",
        "openai": "longvid_assets.resources.openai_planner:OpenAIPlanner",
    },
    "image_generator": {
        "storyboard": "longvid_assets.resources.images:StoryboardImageGenerator",
        "sd3": "longvid_assets.resources.diffusers_images:SD3ImageGenerator",
        "diffusers": "longvid_assets.resources.diffusers_images:DiffusersImageGenerator",
        "openai": "longvid_assets.resources.openai_images:OpenAIImageGenerator",
    },
    "video_generator": {
        "animatic": "longvid_assets.resources.video:AnimaticVideoGenerator",
        "wan_flf2v": "longvid_assets.resources.wan_video:WanFLF2VVideoGenerator",
        "framepack": "longvid_assets.resources.framepack_video:FramePackVideoGenerator",
        "command": "longvid_assets.resources.command_video:CommandVideoGenerator",
    },
    "captioner": {
        "measured": "longvid_assets.resources.captioner:MeasuredCaptioner",
        "vision_chat": "longvid_assets.resources.vision_chat_captioner:VisionChatCaptioner",
        "transformers": "longvid_assets.resources.transformers_captioner:TransformersCaptioner",
    },
    "adherence": {
        "minilm": "longvid_assets.resources.adherence:MiniLMAdherence",
        "off": "longvid_assets.resources.adherence:NoAdherence",
    },
    "speech": {
        "piper": "longvid_assets.resources.speech:PiperSpeech",
        "bark": "longvid_assets.resources.bark_speech:BarkSpeech",
        "openai": "longvid_assets.resources.openai_speech:OpenAISpeech",
    },
    "music": {
        "synth": "longvid_assets.resources.music:SynthMusic",
        "musicgen": "longvid_assets.resources.musicgen:MusicGenMusic",
    },
    "mixer": {"ffmpeg": "longvid_assets.resources.mixer:AudioMixer"},
    "compute": {
        "local": "longvid_assets.compute.local:LocalCompute",
        "ray": "longvid_assets.compute.ray_compute:RayCompute",
    },
}
