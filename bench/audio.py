"""Real-time factors of the speech and music backends (audio seconds per wall second).

    python bench/audio.py                 # Piper on this CPU; MusicGen/Bark on CUDA if present
    python bench/audio.py --device cpu    # also run MusicGen and Bark at full size on the CPU

Piper speaks a ~40 s narration with the bundled voice (loaded and warmed up first). MusicGen
(musicgen-small's sizes) and Bark (bark-small's and bark's sizes) are built from configs with
random weights: no download, and the same compute per generated second as the real
checkpoints (random weights do not change the arithmetic; Bark's semantic tokens are capped
and the real-time factor uses the audio it actually returned). Without CUDA and without
`--device`, they print "unmeasured".
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

NARRATION = (
    "A lone lighthouse stands on a rocky cliff above a restless grey sea. Every night for "
    "forty years the keeper has climbed its spiral stairs to light the lamp. Tonight a storm "
    "rolls in from the west, darkening the sky over the harbour, and one by one the fishing "
    "boats turn for home. The beam sweeps across the water, steady and bright, and the "
    "keeper watches the last boat round the point. When dawn comes, the sea is calm again, "
    "and the gulls return to the rocks below the tower."
)


def piper_rtf(repeats: int) -> tuple[float, float, float]:
    """(median real-time factor, audio seconds, median wall seconds) of Piper on the CPU."""
    from longvid_assets.resources.speech import PiperSpeech

    speech = PiperSpeech()
    with tempfile.TemporaryDirectory() as tmp:
        speech.synthesize("Warming up.", "", Path(tmp) / "warm.wav")  # loads the voice
        walls, audio = [], 0.0
        for _ in range(repeats):
            started = time.perf_counter()
            audio = speech.synthesize(NARRATION, "", Path(tmp) / "take.wav").duration_s
            walls.append(time.perf_counter() - started)
    wall = statistics.median(walls)
    return audio / wall, audio, wall


def musicgen_small(device: str, seconds: float):
    """`timed` of musicgen-small's architecture, random weights."""
    import torch
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

    text = T5Config(
        vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12
    )  # t5-base
    codec = EncodecConfig(
        target_bandwidths=[2.2],
        sampling_rate=32000,
        audio_channels=1,
        upsampling_ratios=[8, 5, 4, 4],
        codebook_size=2048,
        normalize=False,
        num_filters=64,
        hidden_size=128,
    )  # encodec_32khz
    decoder = MusicgenDecoderConfig(
        vocab_size=2048,
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        ffn_dim=4096,
        num_codebooks=4,
        pad_token_id=2048,
        bos_token_id=2048,
    )
    config = MusicgenConfig(
        text_encoder=text.to_dict(), audio_encoder=codec.to_dict(), decoder=decoder.to_dict()
    )
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    model = MusicgenForConditionalGeneration(config).to(device, dtype).eval()
    model.generation_config.update(decoder_start_token_id=2048, pad_token_id=2048)
    input_ids = torch.randint(0, 32000, (1, 16), device=device)
    tokens = int(seconds * 50) + 3

    def run() -> float:
        with torch.inference_mode():
            audio = model.generate(
                input_ids=input_ids, do_sample=True, guidance_scale=3.0, max_new_tokens=tokens
            )
        return audio.shape[-1] / 32000

    return timed(run, device)


def bark(device: str, hidden: int, layers: int, heads: int, semantic_tokens: int):
    """`timed` of Bark at the given size, random weights (semantic tokens capped)."""
    import torch

    from longvid_assets_tests.tiny_transformers_models import random_bark

    size = {"hidden_size": hidden, "num_layers": layers, "num_heads": heads, "block_size": 1024}
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    model = random_bark(size).to(device, dtype)
    input_ids = torch.randint(0, 10_000, (1, 256), device=device)

    def run() -> float:
        with torch.inference_mode():
            audio = model.generate(
                input_ids=input_ids, do_sample=True, semantic_max_new_tokens=semantic_tokens
            )
        return audio.shape[-1] / 24000  # random weights may stop early: use what came out

    return timed(run, device)


def timed(run, device: str) -> tuple[float, float, float | None]:
    """Warm up once, then time one run: (real-time factor, audio seconds, peak GiB)."""
    import torch

    run()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    audio_s = run()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    wall = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None
    return audio_s / wall, audio_s, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", help="run MusicGen/Bark here (default: cuda if present)")
    parser.add_argument("--repeats", type=int, default=3, help="Piper takes (median)")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio per model run")
    args = parser.parse_args()

    import torch

    rtf, audio, wall = piper_rtf(args.repeats)
    cpu = f"{torch.get_num_threads()} torch threads / {__import__('os').cpu_count()} CPUs"
    print(
        f"piper en_US-joe-medium (CPU, onnxruntime; {cpu}): {audio:.1f} s of speech in "
        f"{wall:.2f} s -> {rtf:.1f}x real time"
    )

    device = args.device or ("cuda" if torch.cuda.is_available() else None)
    if device is None:
        for name in ("musicgen-small", "bark-small", "bark"):
            print(f"{name} (full size, random weights): unmeasured — no CUDA device here")
        return
    where = torch.cuda.get_device_name(device) if device.startswith("cuda") else "CPU"
    semantic = int(args.seconds * 49.9)
    runs = {
        "musicgen-small": lambda: musicgen_small(device, args.seconds),
        "bark-small": lambda: bark(device, 768, 12, 12, semantic),
        "bark": lambda: bark(device, 1024, 24, 16, semantic),
    }
    for name, run in runs.items():
        rtf, audio_s, peak = run()
        memory = f", peak {peak:.1f} GiB" if peak is not None else ""
        print(
            f"{name} (full size, random weights, {where}): {audio_s:.1f} s of audio -> "
            f"{rtf:.2f}x real time{memory}"
        )


if __name__ == "__main__":
    main()
