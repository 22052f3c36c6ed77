"""Shared by the engines that run on PyTorch."""

from __future__ import annotations

from yinzi.errors import ConfigurationError


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when a GPU is usable, else ``cpu``; others are checked."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except RuntimeError as exc:
        raise ConfigurationError(f"unknown torch device {device!r}") from exc
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigurationError(f"device {device!r} was asked for but CUDA is not available")
    return str(device)
