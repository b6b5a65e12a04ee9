"""The offline LiteLLM provider `manualqa/…`: local embeddings and one model per role.

Registered through `litellm.custom_provider_map`, so pipeline and API call it
exactly as they would call a hosted model; swapping in a real model is a
configuration change (`llm.<role>.model`, `embedding.model`). The catalog-SQL, intent
composer and answer models read the structured request from the call's metadata
(`LLMClient.complete(offline_input=…)`), never from the rendered prompt: the
extractive answer model is given the evidence the answer engine chose and quotes it.
"""

from __future__ import annotations

import time
from typing import Any

from litellm import CustomLLM
from litellm.types.utils import (
    Choices,
    EmbeddingResponse,
    Message,
    ModelResponse,
    Usage,
)

from manualqa.llm.local_embedder import shared_minilm
from manualqa.llm.offline_answer import EvidenceRequest, quote_evidence
from manualqa.llm.offline_catalog import catalog_sql
from manualqa.llm.offline_router import classify_intent, compose_answer

PROVIDER = "manualqa"
EMBEDDING_MODEL = "all-MiniLM-L6-v2"
EXTRACTIVE_MODEL = "extractive"
CATALOG_SQL_MODEL = "catalog-sql"
INTENT_MODEL = "intent"
COMPOSER_MODEL = "composer"
CHAT_MODELS = (EXTRACTIVE_MODEL, CATALOG_SQL_MODEL, INTENT_MODEL, COMPOSER_MODEL)
MODEL_BATCH = 32  # texts per forward pass; a LiteLLM call may carry several batches


class OfflineProvider(CustomLLM):
    """Serves the chat models in `CHAT_MODELS` and `manualqa/all-MiniLM-L6-v2` (embedding)."""

    def completion(self, *args: Any, **kwargs: Any) -> ModelResponse:
        model: str = kwargs["model"]
        messages: list[dict[str, Any]] = kwargs["messages"]
        metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
        request: dict[str, Any] = metadata.get("manualqa") or {}
        if model in CHAT_MODELS and not request:
            raise ValueError(
                f"the offline {model} model reads its request from offline_input; "
                "call it through LLMClient.complete(..., offline_input=...)"
            )
        if model == EXTRACTIVE_MODEL:
            text = quote_evidence(EvidenceRequest.from_metadata(request))
        elif model == CATALOG_SQL_MODEL:
            text = catalog_sql(request["question"], request["columns"], request["values"])
        elif model == INTENT_MODEL:
            text = classify_intent(request["question"])
        elif model == COMPOSER_MODEL:
            text = compose_answer(request["rows_text"], request["manual_answer"])
        else:
            raise ValueError(f"the offline provider has no chat model {model!r}")
        prompt_tokens = sum(len(str(m["content"]).split()) for m in messages)
        completion_tokens = len(text.split())
        response: ModelResponse = kwargs["model_response"]
        response.choices = [
            Choices(
                index=0,
                finish_reason="stop",
                message=Message(role="assistant", content=text),
            )
        ]
        response.model = f"{PROVIDER}/{model}"
        response.created = int(time.time())
        response.usage = Usage(  # type: ignore[attr-defined]
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )
        return response

    async def acompletion(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return self.completion(*args, **kwargs)

    def embedding(self, *args: Any, **kwargs: Any) -> EmbeddingResponse:
        model: str = kwargs["model"]
        if model != EMBEDDING_MODEL:
            raise ValueError(f"the offline provider has no embedding model {model!r}")
        texts = [str(t) for t in kwargs["input"]]
        vectors = shared_minilm().encode(texts, batch_size=MODEL_BATCH)
        response: EmbeddingResponse = kwargs["model_response"]
        response.model = f"{PROVIDER}/{model}"
        response.data = [
            {"object": "embedding", "index": i, "embedding": v.tolist()}
            for i, v in enumerate(vectors)
        ]
        tokens = sum(len(t.split()) for t in texts)
        response.usage = Usage(prompt_tokens=tokens, completion_tokens=0, total_tokens=tokens)
        return response

    async def aembedding(self, *args: Any, **kwargs: Any) -> EmbeddingResponse:
        return self.embedding(*args, **kwargs)
