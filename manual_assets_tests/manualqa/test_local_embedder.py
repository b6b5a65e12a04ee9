"""The in-process embedder's fast paths stay on the fp32 model's vectors."""

import numpy as np
import pytest

from manualqa.llm.local_embedder import shared_minilm

QUERIES = [
    "How often should I replace the HEPA filter?",
    "reset wifi",
    "What does error code E4 mean on the AC-300 air purifier and how do I clear it?",
]
SENTENCES = [
    "Unplug the unit before cleaning.",
    "The filter indicator turns red after 4,320 hours of use; replace the filter then.",
    "Press and hold the power button for five seconds to restore the factory settings.",
    "Do not operate the appliance with a damaged cord or plug.",
    "Wipe the outer surface with a soft, dry cloth; never use solvents or abrasives.",
]


def _chunks() -> list[str]:
    """Mixed lengths, like real chunks: one sentence up to the model's whole window."""
    rng = np.random.default_rng(3)
    return [" ".join(rng.choice(SENTENCES, size=n)) for n in rng.integers(1, 14, size=40)]


@pytest.fixture(scope="module")
def model():
    return shared_minilm()


def test_query_vectors_from_onnx_match_the_torch_model(model):
    onnx = np.vstack([model.encode([q]) for q in QUERIES])
    torch_fp32 = model.encode_batch(QUERIES, bf16=False)
    cosines = np.sum(onnx * torch_fp32, axis=1)
    assert cosines.min() >= 0.9999
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)


def test_bf16_batches_stay_within_the_cosine_bound(model):
    texts = _chunks()
    fast = model.encode_batch(texts, bf16=True)
    exact = model.encode_batch(texts, bf16=False)
    cosines = np.sum(fast * exact, axis=1)
    assert cosines.mean() >= 0.9999
    assert cosines.min() >= 0.999
    assert fast.dtype == np.float32 and fast.shape == (len(texts), 384)


def test_a_query_finds_its_ingested_twin(model):
    texts = _chunks()
    ingested = model.encode(texts)  # several texts: the batch path
    for i in (0, 7, 21):
        query = model.encode([texts[i]])  # one text: the ONNX path
        assert float(query[0] @ ingested[i]) >= 0.9999
