"""Model weights: the catalog of known models, installing them, and verifying installs."""

from yinzi.models.catalog import DEFAULT_MODELS, MODELS, Model, ModelFile, Wheel
from yinzi.models.store import require

__all__ = ["DEFAULT_MODELS", "MODELS", "Model", "ModelFile", "Wheel", "require"]
