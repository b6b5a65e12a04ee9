"""Every chat and embedding call goes through LiteLLM, via `LLMClient`."""

import os

# LiteLLM otherwise fetches a remote cost map at import and retries for ~10 s.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from manualqa.llm.client import Completion, LLMClient, UsageLedger

__all__ = ["Completion", "LLMClient", "UsageLedger"]
