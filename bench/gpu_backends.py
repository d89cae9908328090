"""s/step and peak VRAM of the video backends on full-size architectures, per offload policy,
through our backend and through a bare diffusers call on the same placed pipeline.

    python bench/gpu_backends.py [--models wan,framepack] [--sizes 480p,720p]
        [--offload none,model,group_block,group_leaf,sequential] [--frames 33] [--steps 3]
    python bench/gpu_backends.py --smoke    # CPU check of this script, one-layer models

Needs a CUDA GPU; without one it says so and exits with code 2 (nothing measured). No
download: the transformers are the full-size Wan2.1 FLF2V-14B and FramePack (HunyuanVideo
13B) architectures with random weights; the VAEs are full size too; the text and image
encoders are one-layer stand-ins with the real output sizes (they run once per call, not
per step). Each (model, offload policy) runs in its own process so hooks never leak between
policies. Per size it runs a 1-step warm-up, the bare `pipe(...)` call, then our
`generate()` (callbacks, logging, frame conversion, exact-count resampling, H.264 encoding)
and prints s/step (first step excluded), peak allocated VRAM and the ratio ours / bare
(goal: ≤ 1.05 for s/step).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = {"480p": (832, 480), "720p": (1280, 720), "smoke": (64, 64)}
POLICIES = ["none", "model", "group_block", "group_leaf", "sequential"]
# The transformer configs of Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers and lllyasviel/FramePackI2V_HY.
WAN_FLF2V_14B = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=40,
    attention_head_dim=128,
    in_channels=36,
    out_channels=16,
    text_dim=4096,
    freq_dim=256,
    ffn_dim=13824,
    num_layers=40,
    cross_attn_norm=True,
    qk_norm="rms_norm_across_heads",
    eps=1e-6,
    image_dim=1280,
    added_kv_proj_dim=5120,
    rope_max_seq_len=1024,
    pos_embed_seq_len=514,
)
FRAMEPACK_I2V = dict(
    in_channels=16,
    out_channels=16,
    num_attention_heads=24,
    attention_head_dim=128,
    num_layers=20,
    num_single_layers=40,
    num_refiner_layers=2,
    mlp_ratio=4.0,
    patch_size=2,
    patch_size_t=1,
    qk_norm="rms_norm",
    guidance_embeds=True,
    text_embed_dim=4096,
    pooled_projection_dim=768,
    rope_theta=256.0,
    rope_axes_dim=(16, 56, 56),
    image_condition_type=None,
    has_image_proj=True,
    image_proj_dim=1152,
    has_clean_x_embedder=True,
)


def random_weights(model, dtype, std: float = 0.002):
    """Materialize a meta-initialized model on the CPU with small random weights, in `dtype`
    except the modules diffusers keeps in float32 (as from_pretrained does); the output
    projection is zeroed so 40+ random layers stay finite."""
    import torch

    model = model.to(dtype).to_empty(device="cpu")  # allocated in `dtype` directly
    keep = getattr(model, "_keep_in_fp32_modules", None) or []
    for name, param in model.named_parameters():
        if any(part in keep for part in name.split(".")):
            param.data = param.data.float()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                param.fill_(1.0)
            elif name.startswith("proj_out"):
                param.zero_()
            else:
                param.normal_(0.0, std)
        for buffer in model.buffers():  # e.g. RoPE tables: uninitialized after to_empty
            if buffer.is_floating_point():
                buffer.zero_()
    return model


def build_wan(dtype, layers: int | None = None):
    import torch
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    from longvid_assets_tests.tiny_models import t5_encoder, t5_tokenizer

    config = dict(WAN_FLF2V_14B, num_layers=layers or WAN_FLF2V_14B["num_layers"])
    with torch.device("meta"):
        transformer = WanTransformer3DModel(**config)
    vision = CLIPVisionConfig(
        hidden_size=1280,
        intermediate_size=256,
        num_hidden_layers=1,
        num_attention_heads=16,
        image_size=224,
        patch_size=14,
    )
    return WanImageToVideoPipeline(
        tokenizer=t5_tokenizer(),
        text_encoder=t5_encoder(d_model=4096, umt5=True, num_layers=1, d_kv=64).to(dtype),
        vae=AutoencoderKLWan(),  # float32, as the Wan examples load it
        scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0),
        image_processor=CLIPImageProcessor(crop_size=224, size=224),
        image_encoder=CLIPVisionModel(vision).to(dtype),
        transformer=random_weights(transformer, dtype),
    )


def build_framepack(dtype, layers: int | None = None):
    import torch
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideoFramepackPipeline,
        HunyuanVideoFramepackTransformer3DModel,
    )
    from transformers import (
        CLIPTextModel,
        LlamaConfig,
        LlamaModel,
        SiglipImageProcessor,
        SiglipVisionConfig,
        SiglipVisionModel,
    )

    from longvid_assets_tests.tiny_models import clip_text_config, clip_tokenizer, llama_tokenizer

    config = dict(FRAMEPACK_I2V)
    if layers:
        config.update(num_layers=layers, num_single_layers=layers, num_refiner_layers=1)
    with torch.device("meta"):
        transformer = HunyuanVideoFramepackTransformer3DModel(**config)
    llama = LlamaConfig(
        hidden_size=4096,
        intermediate_size=256,
        num_hidden_layers=3,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=128,
        max_position_embeddings=1024,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    siglip = SiglipVisionConfig(
        hidden_size=1152,
        intermediate_size=256,
        num_hidden_layers=1,
        num_attention_heads=16,
        image_size=384,
        patch_size=14,
    )
    return HunyuanVideoFramepackPipeline(
        text_encoder=LlamaModel(llama).to(dtype),
        tokenizer=llama_tokenizer(),
        transformer=random_weights(transformer, dtype),
        vae=AutoencoderKLHunyuanVideo().to(dtype),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder_2=CLIPTextModel(clip_text_config(768, projection_dim=768)).to(dtype),
        tokenizer_2=clip_tokenizer(),
        image_encoder=SiglipVisionModel(siglip).to(dtype),
        feature_extractor=SiglipImageProcessor(size={"height": 384, "width": 384}),
    )


class StepTimer:
    """A bare `callback_on_step_end`: step times only."""

    def __init__(self):
        self.times, self.last = [], time.perf_counter()

    def __call__(self, pipe, step, timestep, callback_kwargs):
        now = time.perf_counter()
        self.times.append(now - self.last)
        self.last = now
        return {}

    @property
    def per_step(self) -> float:
        times = self.times[1:] or self.times
        return sum(times) / len(times)


def run_one(
    model: str, policy: str, sizes: list[str], frames: int, steps: int, smoke: bool = False
) -> list[dict]:
    """Build once, place with our GpuResource, then per size: warm-up, bare, ours. `smoke`:
    one-layer transformers of the real widths, on the CPU in float32 (checks this script)."""
    import numpy as np
    import torch
    from PIL import Image

    from longvid_assets.resources import model_cache
    from longvid_assets.resources.framepack_video import FramePackVideoGenerator
    from longvid_assets.resources.video import ClipRequest
    from longvid_assets.resources.wan_video import WanFLF2VVideoGenerator

    device, dtype = ("cpu", torch.float32) if smoke else ("cuda:0", torch.bfloat16)
    gpu = {
        "device": device,
        "dtype": str(dtype).split(".")[1],
        "offload": policy,
        "vae_tiling": not smoke,
    }
    layers = 1 if smoke else None
    if model == "wan":
        pipe = build_wan(dtype, layers)
        backend = WanFLF2VVideoGenerator(
            model="bench/random-wan-flf2v-14b", steps=steps, window_frames=frames, gpu=gpu
        )
        kind, extra = "wan_flf2v", {"guidance_scale": 5.0}
    else:
        pipe = build_framepack(dtype, layers)
        backend = FramePackVideoGenerator(
            model="bench/random-framepack",
            transformer=None,
            image_encoder=None,
            steps=steps,
            preview=False,
            gpu=gpu,
        )
        kind, extra = (
            "framepack",
            {
                "sampling_type": "inverted_anti_drifting",
                "guidance_scale": 10.0,
                "latent_window_size": 9,
            },
        )
    pipe.set_progress_bar_config(disable=True)
    backend.gpu.place(pipe)  # our placement = the diffusers calls a user would make
    model_cache.load_once(kind, backend.pipeline_key(), lambda: pipe)
    rows = []
    with tempfile.TemporaryDirectory(prefix="longvid-gpu-bench-") as folder:
        folder = Path(folder)
        rng = np.random.default_rng(0)
        for name in ("first.png", "last.png"):
            noise = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)
            Image.fromarray(noise).save(folder / name)
        for size in sizes:
            width, height = SIZES[size]
            first = Image.open(folder / "first.png").convert("RGB").resize((width, height))
            last = Image.open(folder / "last.png").convert("RGB").resize((width, height))
            call = dict(
                image=first,
                last_image=last,
                prompt="a fox runs through snow",
                height=height,
                width=width,
                num_frames=frames,
                output_type="np",
                **extra,
            )
            # 1. Warm-up (kernels, allocator, onload paths).
            pipe(num_inference_steps=1, **call)
            # 2. Bare diffusers call.
            backend.gpu.reset_peak()
            timer, started = StepTimer(), time.perf_counter()
            pipe(
                num_inference_steps=steps,
                callback_on_step_end=timer,
                generator=torch.Generator().manual_seed(0),
                **call,
            )
            synchronize(device)
            bare = {
                "s_step": timer.per_step,
                "wall": time.perf_counter() - started,
                "peak": backend.gpu.peak_gib() or 0.0,
            }
            # 3. Our backend's generate(): same pipeline, same placement.
            request = ClipRequest(
                first_image=folder / "first.png",
                last_image=folder / "last.png",
                prompt=call["prompt"],
                num_frames=frames,
                fps=16,
                width=width,
                height=height,
                seed=0,
                log=lambda line: None,
            )
            started = time.perf_counter()
            result = backend.generate(request, folder / f"{size}.mp4")
            synchronize(device)
            ours = {
                "s_step": result.metadata["s_per_step"],
                "wall": time.perf_counter() - started,
                "peak": result.metadata.get("peak_vram_gib", 0.0),
            }
            rows.append(
                {"model": model, "size": size, "offload": policy, "bare": bare, "ours": ours}
            )
    return rows


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def print_table(rows: list[dict]) -> None:
    print(
        f"{'model':<10}{'size':<6}{'offload':<13}{'bare s/step':>12}{'ours s/step':>12}"
        f"{'ratio':>7}{'bare GiB':>10}{'ours GiB':>10}{'wall ratio':>11}"
    )
    for row in rows:
        if "error" in row:
            print(f"{row['model']:<10}{'':<6}{row['offload']:<13}  failed: {row['error']}")
            continue
        bare, ours = row["bare"], row["ours"]
        ratio = ours["s_step"] / bare["s_step"]
        flag = "" if ratio <= 1.05 else "  (> 1.05)"
        print(
            f"{row['model']:<10}{row['size']:<6}{row['offload']:<13}{bare['s_step']:>12.3f}"
            f"{ours['s_step']:>12.3f}{ratio:>7.3f}{bare['peak']:>10.1f}{ours['peak']:>10.1f}"
            f"{ours['wall'] / bare['wall']:>11.3f}{flag}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="wan,framepack")
    parser.add_argument("--sizes", default="480p,720p")
    parser.add_argument("--offload", default=",".join(POLICIES))
    parser.add_argument("--frames", type=int, default=33, help="4k+1 frames per call")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # "model:policy": run in this process
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="check the script on CPU: 1-layer models, 64x64, nothing measured",
    )
    args = parser.parse_args()
    sizes = args.sizes.split(",")

    import torch

    if args.smoke:
        rows = []
        for model in args.models.split(","):
            rows += run_one(model, "none", ["smoke"], frames=5, steps=2, smoke=True)
        print("smoke run on CPU (one-layer models): the numbers mean nothing")
        print_table(rows)
        return 0
    if not torch.cuda.is_available():
        print(
            f"bench/gpu_backends.py: no CUDA GPU visible (torch {torch.__version__}, "
            f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}) — run it "
            "on a CUDA machine; nothing was measured",
            file=sys.stderr,
        )
        return 2
    if args.frames % 4 != 1:
        parser.error(f"--frames {args.frames} must be 4k+1, e.g. 33 or 81")
    if args.one:
        model, policy = args.one.split(":")
        print(json.dumps(run_one(model, policy, sizes, args.frames, args.steps)))
        return 0
    rows = []
    for model in args.models.split(","):
        for policy in args.offload.split(","):
            print(f"running {model} with offload {policy} ...", file=sys.stderr, flush=True)
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--one",
                    f"{model}:{policy}",
                    "--sizes",
                    args.sizes,
                    "--frames",
                    str(args.frames),
                    "--steps",
                    str(args.steps),
                ],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                rows.append({"model": model, "offload": policy, "error": last})
                continue
            rows.extend(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{torch.cuda.get_device_name(0)}, {args.frames} frames, {args.steps} steps, bf16")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
