"""The answer engine over the materialized demo index, offline and with a hosted model
(the local OpenAI-compatible stub through LiteLLM)."""

import pytest

import manualqa.llm.offline_answer
from cli.evals import opened_engine
from evals.golden import load_golden_set
from manualqa.answer import build_engine
from manualqa.config import PROJECT_ROOT, LLMRoleSettings
from manualqa.llm import LLMClient
from manualqa.prompts import ABSTAIN_TEXT

GOLDEN = load_golden_set(PROJECT_ROOT / "evals" / "golden_set.yaml", split="test")
LOOKALIKE = [q for q in GOLDEN if q.confusable_with and q.audience == "public"]
QUESTION = "How often should I replace the HEPA filter on the AC-200?"


@pytest.fixture(scope="module")
def engine(demo_pipeline):
    with opened_engine(demo_pipeline.settings) as engine:
        yield engine


@pytest.fixture
def hosted_engine(engine, openai_stub):
    """The same index and catalog, with the `answer` role on a hosted model."""
    settings = engine.llm.llm.model_copy(
        update={"answer": LLMRoleSettings(model="openai/gpt-4o-mini", api_base=openai_stub.url)}
    )
    llm = LLMClient(settings, engine.llm.embedding_settings)
    profiles = list(engine.directory.profiles.values())
    return build_engine(engine.settings, llm, engine.retriever, profiles, engine.stored_vectors)


def test_the_readme_sample_is_answered_with_the_replacement_interval(engine):
    answer = engine.answer(QUESTION)
    assert not answer.abstained
    assert "month" in answer.text.lower()
    assert all(line.rstrip().endswith("]") for line in answer.text.splitlines() if line.strip())
    (first, *_) = answer.citations
    assert first.manual_key == "acme__ac-200__owners-manual"
    assert first.chunk_id and first.edition == "Edition 3, March 2024"
    assert first.published == "2024-03-01"  # the manifest's date wins over the PDF's


def test_a_question_naming_one_of_two_look_alikes_never_cites_the_other(engine):
    assert len(LOOKALIKE) >= 10
    for q in LOOKALIKE:
        answer = engine.answer(q.question)
        assert answer.scope and q.confusable_with not in answer.scope, q.id
        assert all(c.manual_key != q.confusable_with for c in answer.citations), q.id


def test_a_question_no_manual_answers_abstains(engine):
    for question in (
        "How do I descale a Breville Barista Express espresso machine?",
        "What is the top speed of the Mowbot RM-500 in km/h?",
    ):
        answer = engine.answer(question)
        assert answer.abstained and answer.text == ABSTAIN_TEXT, question
        assert answer.citations == []


def test_a_hosted_answer_keeps_only_the_sentences_its_passages_support(hosted_engine, openai_stub):
    retrieved = hosted_engine.retrieve(QUESTION)
    quoted = next(u.text for u in hosted_engine.weigh(retrieved).units if u.passage == 0)
    invented = "The AC-200 also brews espresso in 30 seconds."
    openai_stub.reply = f"{quoted} [1] {invented} [1]"
    answer = hosted_engine.answer(QUESTION)
    assert openai_stub.requests, "the hosted model was not called"
    assert not answer.abstained and answer.model.endswith("gpt-4o-mini")
    assert answer.text == f"{quoted} [1]"
    assert answer.dropped == (f"{invented} [1]",)
    assert [c.number for c in answer.citations] == [1]


def test_a_hosted_answer_with_no_supported_sentence_abstains(hosted_engine, openai_stub):
    openai_stub.reply = "The AC-200 runs for 400 hours on two AA batteries. [1]"
    answer = hosted_engine.answer(QUESTION)
    assert answer.abstained and answer.citations == []
    assert answer.dropped == (openai_stub.reply,)


def test_the_offline_answer_is_verified_too(engine, monkeypatch):
    """A defect in the offline answer model (an invented sentence) is caught the same way."""
    quote = manualqa.llm.offline_answer.quote_evidence

    def faulty(request):
        return quote(request) + "\nThe HEPA filter is dishwasher safe. [1]"

    monkeypatch.setattr(manualqa.llm.offline_answer, "quote_evidence", faulty)
    monkeypatch.setattr("manualqa.llm.offline.quote_evidence", faulty)
    answer = engine.answer("When should the HEPA filter of my AC-200 be replaced?")
    assert not answer.abstained
    assert "dishwasher" not in answer.text
    assert answer.dropped == ("The HEPA filter is dishwasher safe. [1]",)
