"""A streaming repeating-background model (REPET-SIM, Rafii & Pardo 2012).

Accompaniment repeats: the same bar of drums, the same chord voicing, the same bass figure come
back many times, while a voice seldom repeats exactly. For each frame we find the ``neighbours``
most similar frames (cosine similarity of square-root magnitudes) among a bounded history and
the look-ahead, excluding frames close in time to itself, and take their element-wise median:
an estimate of the repeating background's magnitude. Whatever of a frame's magnitude exceeds it
is attributed to the non-repeating foreground.

Memory is bounded by ``history`` frames, whatever the length of the stream.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Magnitudes = npt.NDArray[np.float32]
"""Shaped ``(frames, bins)``."""


class RepetitionModel:
    def __init__(self, *, neighbours: int, history: int, exclusion: int, feature_bins: int) -> None:
        self.neighbours = neighbours
        self.history = history
        self.exclusion = exclusion
        self.feature_bins = feature_bins
        # magnitudes are kept as (bins, frames): gathering neighbours then yields a contiguous
        # (bins, frames, k) block, so the median partitions along the last axis with no transpose
        self._past_mags: Magnitudes | None = None
        self._past_feats: Magnitudes | None = None

    def background(self, mags: Magnitudes, rows: int, keep: int) -> Magnitudes:
        """Background magnitude of the first ``rows`` frames of ``mags`` (all of it is searched).

        The first ``keep`` frames then join the history.
        """
        feats = self._features(mags)
        mags_t = np.ascontiguousarray(mags.T)
        pool_mags, pool_feats = self._with_history(mags_t, feats)
        offset = pool_feats.shape[0] - feats.shape[0]
        similarity = feats[:rows] @ pool_feats.T
        self._exclude_nearby(similarity, offset)
        k = min(self.neighbours, max(pool_feats.shape[0] - 1, 1))
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        gathered = np.take(pool_mags, nearest, axis=1)  # (bins, rows, k)
        gathered.partition(k // 2, axis=2)  # in place: np.partition would copy the block first
        model = gathered[..., k // 2]
        self._remember(mags_t[:, :keep], feats[:keep])
        return np.ascontiguousarray(model.T)

    def _features(self, mags: Magnitudes) -> Magnitudes:
        feats = np.sqrt(mags[:, : self.feature_bins])
        norms = np.linalg.norm(feats, axis=1, keepdims=True)
        return np.asarray(feats / (norms + 1e-9), np.float32)

    def _with_history(self, mags_t: Magnitudes, feats: Magnitudes) -> tuple[Magnitudes, Magnitudes]:
        if self._past_mags is None or self._past_feats is None:
            return mags_t, feats
        return (
            np.concatenate([self._past_mags, mags_t], axis=1),
            np.concatenate([self._past_feats, feats]),
        )

    def _exclude_nearby(self, similarity: Magnitudes, offset: int) -> None:
        rows = np.arange(similarity.shape[0])[:, None] + offset
        cols = np.arange(similarity.shape[1])[None, :]
        similarity[np.abs(rows - cols) < self.exclusion] = -2.0

    def _remember(self, mags_t: Magnitudes, feats: Magnitudes) -> None:
        past_mags, past_feats = self._with_history(mags_t, feats)
        self._past_mags = np.ascontiguousarray(past_mags[:, -self.history :])
        self._past_feats = past_feats[-self.history :]
