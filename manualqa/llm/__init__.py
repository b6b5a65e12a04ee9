"""Every chat and embedding call goes through LiteLLM, via `LLMClient`."""

import os

# LiteLLM otherwise fetches a remote cost map at import and retries for ~10 s.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# torch (the local embedder) loads OpenMP, whose idle workers otherwise spin between
# parallel regions: on a shared or busy machine the spinning thread takes the core its
# partner needs, and bf16 batches (many short regions) ran 3x slower (bench/RESULTS.md).
# Read once, when torch loads, which only this package's embedder and reranker do.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from manualqa.llm.client import Completion, LLMClient, UsageLedger

__all__ = ["Completion", "LLMClient", "UsageLedger"]
