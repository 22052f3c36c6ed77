"""A tiny, randomly initialised MusicGen for tests, built offline.

``build_tiny_musicgen`` constructs a real ``transformers.MusicgenForConditionalGeneration``
from a miniature ``MusicgenConfig`` and saves it, with its processor, the way published MusicGen
checkpoints are saved, so ``MusicGenComposer(model=str(dest), local_files_only=True)`` goes
through the real loading path (``from_pretrained`` of model and ``AutoProcessor``):

- text encoder: a one-layer T5 (width 16) over a word-level vocabulary;
- audio codec: EnCodec at 32 kHz with a hop of 640 samples (50 frames per second, as
  ``facebook/musicgen-small``) and two codebooks of 64 codes;
- decoder: one MusicGen decoder layer (width 16) predicting those two codebooks;
- tokenizer: a ``tokenizers`` WordLevel model wrapped in ``PreTrainedTokenizerFast`` (a T5
  SentencePiece model would need training data), saved with ``EncodecFeatureExtractor`` as a
  ``MusicgenProcessor``;
- ``generation_config.json`` as the published one: sampling, guidance 3, ``max_length`` 1500.

About 20k parameters and 100 kB on disk; a second of audio takes well under a second on one CPU
core. The output is noise-like (the weights are random): it exercises loading, generation,
lengths and determinism, not musicality. Needs ``torch`` and ``transformers``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

__all__ = ["TINY_SAMPLE_RATE", "build_tiny_musicgen"]

TINY_SAMPLE_RATE = 32000
"""The tiny codec's sample rate (as MusicGen's), so the engine resamples to 44.1 kHz."""

_WORDS = (
    "a an and the with of in for lo fi hip hop jazz rock pop calm happy sad upbeat slow fast "
    "piano guitar drums bass synth strings beat song music melody"
).split()
_SPECIALS = ("<pad>", "</s>", "<unk>")


def build_tiny_musicgen(dest: Path, *, seed: int = 0) -> Path:
    """Save a tiny random MusicGen (model and processor) into ``dest``; return ``dest``."""
    import torch

    hf: Any = importlib.import_module("transformers")  # typed loosely: its stubs vary by version

    dest.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tokenizer = _tokenizer()
    text = hf.T5Config(
        vocab_size=len(tokenizer),
        d_model=16,
        d_kv=8,
        d_ff=32,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    codes = 64
    audio = hf.EncodecConfig(
        sampling_rate=TINY_SAMPLE_RATE,
        upsampling_ratios=[8, 5, 4, 4],  # hop 640: 50 frames per second
        # Two codebooks: num_quantizers = 1000 * bandwidth // (frame_rate * log2(codes)).
        target_bandwidths=[2 * 50 * 6 / 1000],
        codebook_size=codes,
        hidden_size=16,
        num_filters=4,
        num_residual_layers=1,
        num_lstm_layers=1,
    )
    decoder = hf.MusicgenDecoderConfig(
        vocab_size=codes,
        num_codebooks=audio.num_quantizers,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        ffn_dim=32,
        max_position_embeddings=2048,
        pad_token_id=codes,  # as published: the id just past the codebook
        bos_token_id=codes,
    )
    config = hf.MusicgenConfig(text_encoder=text, audio_encoder=audio, decoder=decoder)
    model = hf.MusicgenForConditionalGeneration(config)
    with torch.no_grad():  # EnCodec starts its codebooks at zero: every code would sound alike
        for layer in model.audio_encoder.quantizer.layers:
            layer.codebook.embed.normal_()
            layer.codebook.embed_avg.copy_(layer.codebook.embed)
    model.generation_config = hf.GenerationConfig(
        do_sample=True,
        guidance_scale=3.0,
        max_length=1500,
        bos_token_id=codes,
        pad_token_id=codes,
        decoder_start_token_id=codes,
    )
    model.save_pretrained(dest)
    features = hf.EncodecFeatureExtractor(feature_size=1, sampling_rate=TINY_SAMPLE_RATE)
    hf.MusicgenProcessor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(dest)
    return dest


def _tokenizer() -> Any:
    """A word-level fast tokenizer that, like T5's, ends every text with ``</s>``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    hf: Any = importlib.import_module("transformers")

    vocab = {word: index for index, word in enumerate((*_SPECIALS, *_WORDS))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", vocab["</s>"])]
    )
    return hf.PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
