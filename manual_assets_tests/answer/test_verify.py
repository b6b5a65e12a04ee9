"""Sentence-level verification with the real embedding model."""

import pytest

from manualqa.answer.units import split_units
from manualqa.answer.verify import SupportPassage, Verifier, claims
from manualqa.config import EmbeddingSettings, LLMSettings, VerifySettings
from manualqa.llm import LLMClient

PASSAGE = (
    "Replace the HEPA filter every 6 months, or sooner when the filter light turns red. "
    "Do not wash the HEPA filter: water destroys its fibres. "
    "The pre-filter can be vacuumed every two weeks."
)


@pytest.fixture(scope="module")
def llm() -> LLMClient:
    return LLMClient(LLMSettings(), EmbeddingSettings())


@pytest.fixture(scope="module")
def passages(llm):
    units = tuple(u.text for u in split_units(PASSAGE))
    return [
        SupportPassage(PASSAGE, "4.2 Filter care PureAir AC-200", units, llm.embed(list(units)))
    ]


@pytest.fixture(scope="module")
def verifier(llm):
    return Verifier(VerifySettings(min_term_support=0.6, min_cosine=0.55), embed=llm.embed)


def test_claims_split_after_citations_and_strip_the_product_label():
    found = claims(
        "For the AC-200: Replace it every 6 months [1]. Wash it weekly. [1]\n1. Open. [2]"
    )
    assert [c.body for c in found] == ["Replace it every 6 months", "Wash it weekly.", "1. Open."]
    assert [c.cited for c in found] == [(1,), (1,), (2,)]


def test_a_quote_and_a_faithful_paraphrase_are_kept(verifier, passages):
    verdict = verifier.verify(
        "Replace the HEPA filter every 6 months, or sooner when the filter light turns red. [1]\n"
        "You should replace the HEPA filter every 6 months. [1]",
        passages,
    )
    assert not verdict.dropped
    assert verdict.cited == (1,)


def test_a_table_row_quoted_with_its_column_names_is_kept_without_embedding_it(llm):
    table = "| Task | How often |\n|---|---|\n| Replace the main filter | Every 6 months |"
    units = tuple(u.text for u in split_units(table))
    assert units == ("Task: Replace the main filter; How often: Every 6 months",)
    passage = SupportPassage(table, "6.1 Maintenance schedule", units, llm.embed(list(units)))

    def no_embedding(texts: list[str]) -> None:
        raise AssertionError(f"embedded {texts}")

    verdict = Verifier(VerifySettings(), embed=no_embedding).verify(
        "Task: Replace the main filter; How often: Every 6 months. [1]", [passage]
    )
    assert verdict.cited == (1,) and not verdict.dropped


@pytest.mark.parametrize(
    "sentence",
    [
        "Replace the HEPA filter every 12 months. [1]",  # a number the passage never gives
        "You can wash the HEPA filter with water. [1]",  # the passage says the opposite
        "The purifier connects to Wi-Fi with WPA3. [1]",  # nothing in the passage says so
        "Replace the HEPA filter every 6 months.",  # no citation
        "Replace the HEPA filter every 6 months. [4]",  # cites a passage it was not given
    ],
)
def test_an_unsupported_sentence_is_dropped(verifier, passages, sentence):
    verdict = verifier.verify(
        f"The pre-filter can be vacuumed every two weeks. [1]\n{sentence}", passages
    )
    assert verdict.dropped == (sentence,)
    assert verdict.text == "The pre-filter can be vacuumed every two weeks. [1]"


def test_an_answer_with_no_supported_sentence_cites_nothing(verifier, passages):
    verdict = verifier.verify("The filter lasts ten years. [1]", passages)
    assert verdict.cited == () and verdict.text == ""


def test_a_passage_of_headings_only_supports_nothing(verifier, llm):
    contents = "8 Troubleshooting\n19\n8.1 Common problems\n19\n8.2 Error codes\n19\n"
    empty = SupportPassage(contents, "Contents", (), llm.embed([])[:0])
    verdict = verifier.verify("Restart the purifier to clear error E2. [1]", [empty])
    assert verdict.cited == ()


def test_a_hosted_rerank_endpoint_can_judge_support_instead(openai_stub, passages, llm):
    from manualqa.answer.rerank import litellm_scorer

    openai_stub.rerank = lambda claim, passage: 0.9 if "6 months" in claim else 0.05
    settings = VerifySettings(model="cohere/rerank-english-v3.0", min_score=0.5)
    verifier = Verifier(
        settings, embed=llm.embed, hosted_score=litellm_scorer(settings.model, openai_stub.url)
    )
    verdict = verifier.verify("Change it every 6 months. [1] It is washable. [1]", passages)
    assert verdict.text == "Change it every 6 months. [1]"
    assert verdict.dropped == ("It is washable. [1]",)
    assert len([r for r in openai_stub.requests if r["path"].endswith("rerank")]) == 2
