"""Tiny random-weight transformers models, built from configs and saved like hub repos.

Each builder writes a folder that the real backends load by path (`from_pretrained`), with
a processor made offline: a word-level `tokenizers` model and the model's own feature
extractor / image processor. Sizes are tiny; the vocabularies and codebooks that the
generation code hard-codes (Bark's 10k semantic tokens, 1024-entry codebooks, MusicGen's
codebooks = codec quantizers) keep their real values, so generation runs the real paths.
"""

import json
from pathlib import Path

import numpy as np

WORDS = [
    "a",
    "the",
    "fox",
    "red",
    "snow",
    "forest",
    "lake",
    "moon",
    "night",
    "dawn",
    "sky",
    "blue",
    "light",
    "house",
    "sea",
    "storm",
    "came",
    "clip",
    "shows",
    "slow",
    "camera",
    "pan",
    "over",
    "calm",
    "ambient",
    "pad",
    "piano",
    "music",
    "soft",
    "warm",
    "gentle",
]

BARK_VOICE = "v2/en_speaker_0"


def word_tokenizer(specials: list[str], **special_tokens):
    """A fast tokenizer over WORDS (+ 40 filler words) with the given special tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {word: i for i, word in enumerate(specials + WORDS + [f"w{i}" for i in range(40)])}
    model = Tokenizer(models.WordLevel(vocab=vocab, unk_token=specials[0]))
    model.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=model, **special_tokens), vocab


LLAVA_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}USER: {% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<image> {% else %}{{ c['text'] }}{% endif %}{% endfor %}"
    "{% endif %}{% endfor %}{% if add_generation_prompt %} ASSISTANT:{% endif %}"
)


def build_tiny_llava(folder: Path) -> Path:
    """LlavaForConditionalGeneration (CLIP vision + Llama) + LlavaProcessor, 32 px images."""
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tokenizer, vocab = word_tokenizer(
        ["<unk>", "<s>", "</s>", "<pad>", "<image>"],
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"},
    )
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(
        image_processor=images,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        chat_template=LLAVA_TEMPLATE,
        num_additional_image_tokens=1,
    )
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=8,
        projection_dim=32,
    )
    text = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=vocab["<image>"],
        vision_feature_layer=-1,
    )
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config).eval()
    # Never end at once or emit only special tokens (a random model might): no empty caption.
    model.generation_config.suppress_tokens = [0, 1, 2, 3, 4]
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def random_bark(size: dict, codec_config=None):
    """A random-weight BarkModel of the given layer `size` (hidden_size, num_layers,
    num_heads, block_size) with Bark's generation settings; shared with `bench/audio.py`."""
    from transformers import (
        BarkCoarseConfig,
        BarkConfig,
        BarkFineConfig,
        BarkModel,
        BarkSemanticConfig,
        EncodecConfig,
        GenerationConfig,
    )
    from transformers.models.bark.generation_configuration_bark import (
        BarkCoarseGenerationConfig,
        BarkFineGenerationConfig,
        BarkSemanticGenerationConfig,
    )

    config = BarkConfig(
        semantic_config=BarkSemanticConfig(
            input_vocab_size=129_600, output_vocab_size=10_048, **size
        ).to_dict(),
        coarse_acoustics_config=BarkCoarseConfig(
            input_vocab_size=12_096, output_vocab_size=12_096, **size
        ).to_dict(),
        fine_acoustics_config=BarkFineConfig(
            input_vocab_size=1_056,
            output_vocab_size=1_056,
            n_codes_total=8,
            n_codes_given=1,
            **size,
        ).to_dict(),
        codec_config=(codec_config or EncodecConfig()).to_dict(),  # default: encodec_24khz
    )
    model = BarkModel(config).eval()
    model.generation_config = GenerationConfig(
        semantic_config=BarkSemanticGenerationConfig().to_dict(),
        coarse_acoustics_config=BarkCoarseGenerationConfig().to_dict(),
        fine_acoustics_config=BarkFineGenerationConfig().to_dict(),
        sample_rate=24000,
        codebook_size=1024,
    )
    return model


def build_tiny_bark(folder: Path) -> Path:
    """BarkModel (semantic, coarse, fine, a tiny 24 kHz EnCodec) + BarkProcessor with one
    voice preset, `v2/en_speaker_0`, saved as hub repos ship them."""
    import torch
    from transformers import (
        BarkProcessor,
        EncodecConfig,
    )

    small = {"block_size": 1024, "num_layers": 2, "num_heads": 2, "hidden_size": 16}
    codec = EncodecConfig(
        target_bandwidths=[1.5, 3.0, 6.0, 12.0, 24.0],
        sampling_rate=24000,
        audio_channels=1,
        num_filters=4,
        hidden_size=16,
        codebook_size=1024,
        codebook_dim=16,
        num_lstm_layers=1,
        upsampling_ratios=[8, 5, 4, 2],
    )
    torch.manual_seed(0)
    model = random_bark(small, codec)
    model.save_pretrained(folder)
    tokenizer, _ = word_tokenizer(
        ["[UNK]", "[PAD]", "[CLS]", "[SEP]"],
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
    )
    BarkProcessor(tokenizer=tokenizer).save_pretrained(folder)
    # A voice preset: token histories as the real presets hold them.
    rng = np.random.default_rng(0)
    presets = folder / "speaker_embeddings" / "v2"
    presets.mkdir(parents=True, exist_ok=True)
    arrays = {
        "semantic_prompt": rng.integers(0, 10_000, size=(20,)),
        "coarse_prompt": rng.integers(0, 1024, size=(2, 30)),
        "fine_prompt": rng.integers(0, 1024, size=(8, 30)),
    }
    entry = {}
    for key, array in arrays.items():
        np.save(presets / f"en_speaker_0_{key}.npy", array)
        entry[key] = f"speaker_embeddings/v2/en_speaker_0_{key}.npy"
    index = {"repo_or_path": str(folder), BARK_VOICE: entry}
    (folder / "speaker_embeddings_path.json").write_text(json.dumps(index), encoding="utf-8")
    return folder


def build_tiny_musicgen(folder: Path) -> Path:
    """MusicgenForConditionalGeneration (T5 text encoder, 32 kHz EnCodec, 4 codebooks of
    2048 like musicgen-small) + MusicgenProcessor."""
    import torch
    from transformers import (
        EncodecConfig,
        EncodecFeatureExtractor,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
    )

    tokenizer, vocab = word_tokenizer(
        ["<unk>", "<pad>", "</s>"], unk_token="<unk>", pad_token="<pad>", eos_token="</s>"
    )
    features = EncodecFeatureExtractor(feature_size=1, sampling_rate=32000, padding_value=0.0)
    text = T5Config(
        vocab_size=len(vocab),
        d_model=16,
        d_kv=8,
        d_ff=32,
        num_layers=1,
        num_heads=2,
        decoder_start_token_id=1,
        pad_token_id=1,
        eos_token_id=2,
    )
    # 2.2 kbps at 50 Hz with 2048-entry codebooks = 4 quantizers, as in musicgen-small.
    audio = EncodecConfig(
        target_bandwidths=[2.2],
        sampling_rate=32000,
        audio_channels=1,
        num_filters=4,
        hidden_size=16,
        codebook_size=2048,
        codebook_dim=16,
        num_lstm_layers=1,
        upsampling_ratios=[8, 5, 4, 4],
        normalize=False,
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=2048,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        ffn_dim=32,
        num_codebooks=4,
        max_position_embeddings=2048,
        pad_token_id=2048,
        bos_token_id=2048,
        audio_channels=1,
    )
    config = MusicgenConfig(
        text_encoder=text.to_dict(), audio_encoder=audio.to_dict(), decoder=decoder.to_dict()
    )
    torch.manual_seed(0)
    model = MusicgenForConditionalGeneration(config).eval()
    model.generation_config.update(
        decoder_start_token_id=2048, pad_token_id=2048, max_length=1500, do_sample=True
    )
    model.save_pretrained(folder)
    MusicgenProcessor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(folder)
    return folder
