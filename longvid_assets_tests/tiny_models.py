"""Tiny random-weight diffusers pipelines, built from configs and saved with `save_pretrained`.

Tests (and the GPU bench, for its small components) point a YAML config at the saved folder,
so the backends load them with `from_pretrained(path)` — the code path a hub id takes. No
download: tokenizers are built in memory from a character vocabulary.

    path = save_tiny_wan_flf2v(tmp_path / "wan")
"""

import string
from pathlib import Path

CHARS = list(string.ascii_lowercase + string.digits + ".,'")


# Tokenizers ---------------------------------------------------------------------------------
def clip_tokenizer():
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in CHARS:
        vocab[char] = len(vocab)
        vocab[f"{char}</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def t5_tokenizer():
    from transformers import T5TokenizerFast

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -1.0)]
    vocab += [(char, -1.0) for char in CHARS]
    return T5TokenizerFast(vocab=vocab, extra_ids=0, model_max_length=512)


def llama_tokenizer():
    from transformers import LlamaTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3}
    for char in CHARS + list(string.ascii_uppercase + "<>|_:!?-()[]{}/\n "):
        vocab.setdefault(char, len(vocab))
    tokenizer = LlamaTokenizerFast(vocab=vocab, merges=[])
    tokenizer.pad_token = "<unk>"
    return tokenizer


# Text encoders ------------------------------------------------------------------------------
def clip_text_config(hidden_size: int = 32, projection_dim: int = 32):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=hidden_size,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=len(CHARS) * 2 + 2,
        projection_dim=projection_dim,
        max_position_embeddings=77,
    )


def t5_encoder(d_model: int = 32, umt5: bool = False, num_layers: int = 2, d_kv: int = 8):
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    kwargs = dict(
        vocab_size=len(CHARS) + 4,
        d_model=d_model,
        d_kv=d_kv,
        d_ff=37,
        num_layers=num_layers,
        num_heads=4,
        relative_attention_num_buckets=8,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    if umt5:
        return UMT5EncoderModel(UMT5Config(**kwargs))
    return T5EncoderModel(T5Config(**kwargs))


# Image pipelines ----------------------------------------------------------------------------
def save_tiny_sd3(path: Path) -> Path:
    """StableDiffusion3Pipeline: 2 CLIP text encoders, a T5, a one-layer MMDiT, 8x VAE."""
    import torch
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )
    from transformers import CLIPTextModelWithProjection

    torch.manual_seed(0)
    pipe = StableDiffusion3Pipeline(
        transformer=SD3Transformer2DModel(
            sample_size=8,
            patch_size=1,
            in_channels=16,
            num_layers=1,
            attention_head_dim=8,
            num_attention_heads=4,
            caption_projection_dim=32,
            joint_attention_dim=32,
            pooled_projection_dim=64,
            out_channels=16,
            pos_embed_max_size=16,
        ),
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=_tiny_vae(sd3=True),
        text_encoder=CLIPTextModelWithProjection(clip_text_config()),
        tokenizer=clip_tokenizer(),
        text_encoder_2=CLIPTextModelWithProjection(clip_text_config()),
        tokenizer_2=clip_tokenizer(),
        text_encoder_3=t5_encoder(),
        tokenizer_3=t5_tokenizer(),
    )
    pipe.save_pretrained(path)
    return Path(path)


def save_tiny_sd(path: Path) -> Path:
    """A Stable Diffusion 1.x-style UNet pipeline, for AutoPipelineForText2Image/Image2Image/
    Inpainting (a model the `diffusers` backend loads without naming its class)."""
    import torch
    from diffusers import DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    pipe = StableDiffusionPipeline(
        unet=UNet2DConditionModel(
            block_out_channels=(8, 16),
            layers_per_block=1,
            sample_size=8,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            norm_num_groups=4,
            attention_head_dim=4,
        ),
        scheduler=DDIMScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            clip_sample=False,
            set_alpha_to_one=False,
            steps_offset=1,
        ),
        vae=_tiny_vae(),
        text_encoder=CLIPTextModel(clip_text_config()),
        tokenizer=clip_tokenizer(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(path)
    return Path(path)


def _tiny_vae(sd3: bool = False):
    from diffusers import AutoencoderKL

    if sd3:  # SD3's VAE has no quant convs and shifts its latents
        extra = dict(
            use_quant_conv=False,
            use_post_quant_conv=False,
            shift_factor=0.0609,
            scaling_factor=1.5035,
            latent_channels=16,
        )
    else:
        extra = dict(latent_channels=4)
    return AutoencoderKL(
        block_out_channels=(4, 4, 4, 4),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1,
        norm_num_groups=2,
        sample_size=32,
        **extra,
    )


# Video pipelines ----------------------------------------------------------------------------
def save_tiny_wan_flf2v(path: Path) -> Path:
    """WanImageToVideoPipeline with an FLF2V transformer (image pos-embed for 2 images)."""
    import torch
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    image_size = 4  # CLIP sees 4x4 pixels, patch 1: 16 + 1 tokens per image
    pipe = WanImageToVideoPipeline(
        tokenizer=t5_tokenizer(),
        text_encoder=t5_encoder(umt5=True),
        vae=AutoencoderKLWan(
            base_dim=3,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        ),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        image_processor=CLIPImageProcessor(
            crop_size=image_size,
            size=image_size,
            do_center_crop=True,
            do_normalize=True,
            do_resize=True,
            image_mean=[0.48145466, 0.4578275, 0.40821073],
            image_std=[0.26862954, 0.26130258, 0.27577711],
            resample=3,
        ),
        image_encoder=CLIPVisionModel(
            CLIPVisionConfig(
                hidden_size=4,
                projection_dim=4,
                num_hidden_layers=2,
                num_attention_heads=2,
                image_size=image_size,
                intermediate_size=16,
                patch_size=1,
            )
        ),
        transformer=WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=36,
            out_channels=16,
            text_dim=32,
            freq_dim=256,
            ffn_dim=32,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=32,
            image_dim=4,
            pos_embed_seq_len=2 * (image_size * image_size + 1),
        ),
    )
    pipe.save_pretrained(path)
    return Path(path)


def save_tiny_framepack(path: Path) -> Path:
    """HunyuanVideoFramepackPipeline (Llama + CLIP text, SigLIP image, FramePack transformer)."""
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

    torch.manual_seed(0)
    llama = LlamaConfig(
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        hidden_size=16,
        intermediate_size=37,
        num_attention_heads=4,
        num_key_value_heads=4,
        num_hidden_layers=3,
        vocab_size=128,
        hidden_act="gelu",
        max_position_embeddings=1024,
    )
    pipe = HunyuanVideoFramepackPipeline(
        text_encoder=LlamaModel(llama),
        tokenizer=llama_tokenizer(),
        transformer=HunyuanVideoFramepackTransformer3DModel(
            in_channels=4,
            out_channels=4,
            num_attention_heads=2,
            attention_head_dim=10,
            num_layers=1,
            num_single_layers=1,
            num_refiner_layers=1,
            patch_size=2,
            patch_size_t=1,
            guidance_embeds=True,
            text_embed_dim=16,
            pooled_projection_dim=8,
            rope_axes_dim=(2, 4, 4),
            image_condition_type=None,
            has_image_proj=True,
            image_proj_dim=32,
            has_clean_x_embedder=True,
        ),
        vae=AutoencoderKLHunyuanVideo(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            down_block_types=("HunyuanVideoDownBlock3D",) * 4,
            up_block_types=("HunyuanVideoUpBlock3D",) * 4,
            block_out_channels=(8, 8, 8, 8),
            layers_per_block=1,
            act_fn="silu",
            norm_num_groups=4,
            scaling_factor=0.476986,
            spatial_compression_ratio=8,
            temporal_compression_ratio=4,
            mid_block_add_attention=True,
        ),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder_2=CLIPTextModel(clip_text_config(hidden_size=8)),
        tokenizer_2=clip_tokenizer(),
        image_encoder=SiglipVisionModel(
            SiglipVisionConfig(
                hidden_size=32,
                intermediate_size=37,
                num_attention_heads=4,
                num_hidden_layers=2,
                image_size=16,
                patch_size=4,
            )
        ),
        feature_extractor=SiglipImageProcessor(size={"height": 16, "width": 16}),
    )
    pipe.save_pretrained(path)
    return Path(path)
