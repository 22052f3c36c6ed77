"""Spleeter's U-Net in numpy: one network per stem, mapping a magnitude patch to a soft mask.

Shapes are channels-first without a batch axis: a patch is ``(2, frames, bins)`` (stereo as two
channels, time, then frequency), 512 frames by 1024 bins in Spleeter. The network is
Spleeter's (Jansson et al. 2017, as published by Deezer and ported to PyTorch keys):

- six down blocks: zero padding (1 before, 2 after, on both axes), a 5x5 convolution of stride
  2, batch-norm, leaky ReLU (0.2); 16, 32, ..., 512 channels;
- six up blocks: a 5x5 transposed convolution of stride 2 cropped by (1, 2) on both axes, ReLU,
  batch-norm (dropout is a no-op at inference); each block after the first reads the previous
  one's output concatenated after the matching down block's output;
- a 4x4 convolution with dilation 2 and padding 3 back to two channels, and a sigmoid.

As in Spleeter, the skips and the first up block take the down convolutions' outputs *before*
their batch-norm, so that batch-norm stays a per-channel affine step (it cannot be folded into a
convolution whose raw output is needed too). The up blocks' batch-norm comes after their ReLU,
so it folds exactly into whatever reads it: its scale into that layer's input weights, its shift
into a bias *map* (the layer applied to a constant image of shifts, which differs from a plain
bias along the zero-padded borders); the maps are computed once, at load, for the fixed patch
shape. Convolutions are one matrix product each: im2col on a strided view for the down path;
weights times input, then 25 strided adds (col2im), for the transposed ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32]
Arrays = dict[str, npt.NDArray[Any]]

DEPTH = 6
KERNEL = 5
EPS = 1e-3  # Spleeter's batch-norm epsilon
LEAK = 0.2


@dataclass(frozen=True)
class _Down:
    weights: Floats  # (out, in * 25)
    bias: Floats  # (out, 1, 1)
    scale: Floats  # batch-norm, (out, 1, 1)
    shift: Floats


@dataclass(frozen=True)
class _Up:
    weights: Floats  # (out * 25, in), input batch-norm scale folded in
    bias: Floats  # (out, h, w): bias plus the folded input shift
    channels: int


class UNet:
    """A loaded network for patches of ``frames`` x ``bins`` (multiples of 64)."""

    def __init__(self, arrays: Arrays, *, frames: int = 512, bins: int = 1024) -> None:
        if frames % 2**DEPTH or bins % 2**DEPTH:
            raise ValueError(f"patch sides must be multiples of {2**DEPTH}")
        self.shape = (frames, bins)
        params = {key: np.asarray(value, np.float32) for key, value in arrays.items()}
        self._down = [_down(params, f"down{k}") for k in range(1, DEPTH + 1)]
        self._ups: list[_Up] = []
        # the input of up1 is down6's raw output; every later input ends with a batch-normed part
        scale: Floats = np.ones(0, np.float32)
        shift: Floats = np.zeros(0, np.float32)
        size = (frames >> DEPTH, bins >> DEPTH)
        for k in range(1, DEPTH + 1):
            weight, bias = params[f"up{k}.0.weight"], params[f"up{k}.0.bias"]
            skip = weight.shape[0] - scale.size
            full_scale = np.concatenate([np.ones(skip, np.float32), scale])
            full_shift = np.concatenate([np.zeros(skip, np.float32), shift])
            folded = weight * full_scale[:, None, None, None]
            plain = _up_matrix(weight)
            constant = np.broadcast_to(full_shift[:, None, None], (weight.shape[0], *size))
            bias_map = _transposed(plain, weight.shape[1], constant) + bias[:, None, None]
            self._ups.append(_Up(_up_matrix(folded), bias_map, weight.shape[1]))
            scale, shift = _batch_norm(params, f"up{k}.3")
            size = (size[0] * 2, size[1] * 2)
        weight, bias = params["up7.0.weight"], params["up7.0.bias"]  # (2, 1, 4, 4)
        self._last = weight[:, 0] * scale[0]
        constant = np.full((frames, bins), shift[0], np.float32)
        self._last_bias = _dilated(weight[:, 0], constant) + bias[:, None, None]

    def __call__(self, patch: Floats) -> Floats:
        """The mask ``(2, frames, bins)`` in (0, 1) for the magnitudes ``patch``, same shape."""
        if patch.shape != (2, *self.shape):
            raise ValueError(f"patch is {patch.shape}, expected {(2, *self.shape)}")
        x = np.asarray(patch, np.float32)
        skips: list[Floats] = []
        for block in self._down:
            raw = _strided_conv(block.weights, x) + block.bias
            skips.append(raw)
            x = raw * block.scale + block.shift
            x = np.maximum(x, LEAK * x)
        x = skips.pop()
        for k, up in enumerate(self._ups):
            if k:
                x = np.concatenate([skips.pop(), x])
            x = _transposed(up.weights, up.channels, x) + up.bias
            np.maximum(x, 0, out=x)
        out = _dilated(self._last, x[0]) + self._last_bias
        return np.asarray(0.5 + 0.5 * np.tanh(0.5 * out), np.float32)  # the sigmoid, no overflow


def _batch_norm(params: dict[str, Floats], prefix: str) -> tuple[Floats, Floats]:
    """Batch-norm at inference as ``x * scale + shift``."""
    scale = params[f"{prefix}.weight"] / np.sqrt(params[f"{prefix}.running_var"] + EPS)
    shift = params[f"{prefix}.bias"] - params[f"{prefix}.running_mean"] * scale
    return scale.astype(np.float32), shift.astype(np.float32)


def _down(params: dict[str, Floats], name: str) -> _Down:
    weight, bias = params[f"{name}_conv.1.weight"], params[f"{name}_conv.1.bias"]
    scale, shift = _batch_norm(params, f"{name}_act.0")
    return _Down(
        np.ascontiguousarray(weight.reshape(weight.shape[0], -1)),
        bias[:, None, None],
        scale[:, None, None],
        shift[:, None, None],
    )


def _up_matrix(weight: Floats) -> Floats:
    """Transposed-convolution weights ``(in, out, 5, 5)`` as a ``(out * 25, in)`` matrix."""
    return np.ascontiguousarray(weight.reshape(weight.shape[0], -1).T)


def _strided_conv(matrix: Floats, x: Floats) -> Floats:
    """Zero-pad ``x`` by (1, 2) on both axes and convolve (5x5, stride 2) with ``matrix``."""
    channels, height, width = x.shape
    padded = np.pad(x, [(0, 0), (1, 2), (1, 2)])
    c, h, w = padded.strides
    rows, cols = height // 2, width // 2
    view = np.lib.stride_tricks.as_strided(
        padded,
        (channels, KERNEL, KERNEL, rows, cols),
        (c, h, w, 2 * h, 2 * w),
        writeable=False,
    )
    columns = view.reshape(channels * KERNEL * KERNEL, rows * cols)  # the one copy
    return (matrix @ columns).reshape(-1, rows, cols)


def _transposed(matrix: Floats, channels: int, x: Floats) -> Floats:
    """The 5x5 stride-2 transposed convolution of ``x``, cropped by (1, 2) on both axes."""
    _, height, width = x.shape
    taps = (matrix @ x.reshape(x.shape[0], -1)).reshape(channels, KERNEL, KERNEL, height, width)
    full = np.zeros((channels, 2 * height + 3, 2 * width + 3), np.float32)
    for i in range(KERNEL):
        for j in range(KERNEL):
            full[:, i : i + 2 * height : 2, j : j + 2 * width : 2] += taps[:, i, j]
    return full[:, 1 : 2 * height + 1, 1 : 2 * width + 1]


def _dilated(weight: Floats, x: Floats) -> Floats:
    """The final 4x4 convolution (dilation 2, zero padding 3) of one channel to ``weight[0]``."""
    height, width = x.shape
    padded = np.pad(x, 3)
    out = np.zeros((weight.shape[0], height, width), np.float32)
    for i in range(weight.shape[1]):
        for j in range(weight.shape[2]):
            window = padded[2 * i : 2 * i + height, 2 * j : 2 * j + width]
            out += weight[:, i, j, None, None] * window
    return out
