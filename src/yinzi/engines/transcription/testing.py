"""Build a tiny, randomly initialised Whisper model folder, offline, for tests and demos.

``build_tiny_whisper(dest)`` writes a folder that ``faster_whisper.WhisperModel`` loads exactly
as it loads a real converted checkpoint (``model.bin``, ``vocabulary.txt``, ``config.json``,
``tokenizer.json``, ``preprocessor_config.json``), with no network and no torch: the weights
come from numpy and go through CTranslate2's own converter machinery, the tokenizer is built
with the ``tokenizers`` library. Its text is garbage; it exists to exercise loading and plumbing.

The token layout is Whisper's own, because CTranslate2 and faster-whisper depend on it:
CTranslate2 calls a model multilingual when its vocabulary has at least 51,865 tokens and
derives the timestamp tokens from the position of ``<|notimestamps|>``. A multilingual build
follows large-v3 (51,866 tokens: 50,257 text tokens, the specials with every language of
faster-whisper, 1,501 timestamps); an English-only build follows ``tiny.en`` (51,864).
"""

from __future__ import annotations

import itertools
import json
import string
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["build_tiny_whisper"]

D_MODEL = 64
LAYERS = 2
HEADS = 4
FFN = 4 * D_MODEL
N_MELS = 80
AUDIO_POSITIONS = 1500
"""Encoder positions: 30 s of 10 ms mel frames, halved by the second convolution."""
TEXT_POSITIONS = 448
TIMESTAMPS = 1501
"""``<|0.00|>`` to ``<|30.00|>`` in steps of 20 ms."""

Array = npt.NDArray[np.float32]


def build_tiny_whisper(dest: Path, *, multilingual: bool = True, seed: int = 0) -> Path:
    """Write a tiny random-weight Whisper model folder at ``dest`` (replaced) and return it."""
    from ctranslate2.converters.converter import Converter

    tokens = _vocabulary(multilingual)
    config = _config(tokens)

    class _RandomWhisperConverter(Converter):  # type: ignore[misc]
        def _load(self) -> Any:
            return _random_spec(tokens, config, np.random.default_rng(seed))

    dest = Path(dest)
    _RandomWhisperConverter().convert(str(dest), force=True)
    _tokenizer(tokens).save(str(dest / "tokenizer.json"))
    preprocessor = {"feature_size": N_MELS, "sampling_rate": 16000, "chunk_length": 30}
    (dest / "preprocessor_config.json").write_text(json.dumps(preprocessor), encoding="utf-8")
    return dest


def _languages(multilingual: bool) -> list[str]:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    codes = list(_LANGUAGE_CODES)
    # Cantonese arrived with large-v3; English-only models predate it.
    return codes if multilingual else [code for code in codes if code != "yue"]


def _vocabulary(multilingual: bool) -> list[str]:
    """Every token in id order: text, specials, languages, task tokens, timestamps."""
    from tokenizers import pre_tokenizers

    text_size = 50257 if multilingual else 50256
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens = list(alphabet)
    # CTranslate2 recognises a multilingual vocabulary by its empty text token (as in Whisper's).
    filler = text_size - len(tokens) - (1 if multilingual else 0)
    tokens += itertools.islice(_filler_words(), filler)
    tokens += [""] if multilingual else []
    tokens += ["<|endoftext|>", "<|startoftranscript|>"]
    tokens += [f"<|{code}|>" for code in _languages(multilingual)]
    no_speech = "<|nospeech|>" if multilingual else "<|nocaptions|>"
    tokens += ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", no_speech]
    tokens += ["<|notimestamps|>"] + [f"<|{i * 0.02:.2f}|>" for i in range(TIMESTAMPS)]
    return tokens


def _filler_words() -> itertools.chain[str]:
    """Distinct pronounceable byte-level tokens; ``Ġ`` (a space) starts every other one."""
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    pairs = ("".join(p) for n in (2, 3) for p in itertools.product(syllables, repeat=n))
    return itertools.chain.from_iterable(("Ġ" + word, word) for word in pairs)


def _tokenizer(tokens: list[str]) -> Any:
    """A byte-level BPE tokenizer over ``tokens`` with every ``<|...|>`` token special."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    vocab = {token: index for index, token in enumerate(tokens)}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    specials = [t for t in tokens if t.startswith("<|") and t.endswith("|>")]
    tokenizer.add_special_tokens([AddedToken(t, special=True) for t in specials])
    return tokenizer


def _config(tokens: list[str]) -> dict[str, Any]:
    index = {token: i for i, token in enumerate(tokens)}
    eot = index["<|endoftext|>"]
    first_language = index["<|startoftranscript|>"] + 1
    return {
        "suppress_ids": [index[symbol] for symbol in string.punctuation[:8]],
        "suppress_ids_begin": [index["Ġ"], eot],
        "lang_ids": list(range(first_language, index["<|translate|>"])),
        # The later half of the decoder layers, every head: what the HF converter defaults to.
        "alignment_heads": [
            [layer, head] for layer in range(LAYERS // 2, LAYERS) for head in range(HEADS)
        ],
    }


def _random_spec(tokens: list[str], config: dict[str, Any], rng: np.random.Generator) -> Any:
    from ctranslate2.specs import whisper_spec

    def normal(*shape: int) -> Array:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    spec = whisper_spec.WhisperSpec(LAYERS, HEADS, LAYERS, HEADS)
    encoder, decoder = spec.encoder, spec.decoder
    encoder.conv1.weight, encoder.conv1.bias = normal(D_MODEL, N_MELS, 3), _zeros(D_MODEL)
    encoder.conv2.weight, encoder.conv2.bias = normal(D_MODEL, D_MODEL, 3), _zeros(D_MODEL)
    encoder.position_encodings.encodings = _sinusoids(AUDIO_POSITIONS, D_MODEL)
    _norm(encoder.layer_norm)
    for layer in encoder.layer:
        _attention(layer.self_attention, normal, fused_outputs=3)
        _ffn(layer.ffn, normal)

    embeddings = normal(len(tokens), D_MODEL)
    decoder.embeddings.weight = embeddings
    decoder.projection.weight = embeddings  # tied, as in Whisper: saved once
    decoder.position_encodings.encodings = normal(TEXT_POSITIONS, D_MODEL)
    _norm(decoder.layer_norm)
    for layer in decoder.layer:
        _attention(layer.self_attention, normal, fused_outputs=3)
        _attention(layer.attention, normal, fused_outputs=1, cross_outputs=2)
        _ffn(layer.ffn, normal)

    spec.register_vocabulary(tokens)
    for key, value in config.items():
        setattr(spec.config, key, value)
    return spec


def _zeros(size: int) -> Array:
    return np.zeros(size, dtype=np.float32)


def _norm(spec: Any) -> None:
    spec.gamma, spec.beta = np.ones(D_MODEL, dtype=np.float32), _zeros(D_MODEL)


def _linear(spec: Any, normal: Any, outputs: int, inputs: int = D_MODEL) -> None:
    spec.weight, spec.bias = normal(outputs, inputs), _zeros(outputs)


def _attention(spec: Any, normal: Any, *, fused_outputs: int, cross_outputs: int = 0) -> None:
    """Self-attention: fused QKV then output; cross-attention: Q, fused KV, then output."""
    _norm(spec.layer_norm)
    _linear(spec.linear[0], normal, fused_outputs * D_MODEL)
    if cross_outputs:
        _linear(spec.linear[1], normal, cross_outputs * D_MODEL)
    _linear(spec.linear[-1], normal, D_MODEL)


def _ffn(spec: Any, normal: Any) -> None:
    _norm(spec.layer_norm)
    _linear(spec.linear_0, normal, FFN)
    _linear(spec.linear_1, normal, D_MODEL, inputs=FFN)


def _sinusoids(length: int, channels: int) -> Array:
    """Whisper's fixed encoder position embedding."""
    increment = np.log(10000) / (channels // 2 - 1)
    inverse = np.exp(-increment * np.arange(channels // 2))
    angles = np.arange(length)[:, None] * inverse[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype(np.float32)
