from manualqa.llm.extractive import answer_extractively
from manualqa.prompts import ABSTAIN_TEXT, PromptPassage, parse_answer_prompt, render_answer_prompt

AC200 = PromptPassage(
    2,
    "acme__ac-200",
    "AC-200",
    "11",
    "6.2 Replacing the filter",
    "Replace the HEPA filter every 6 months. Turn the unit off before opening the cover.",
)
AC300 = PromptPassage(
    1,
    "acme__ac-300",
    "AC-300",
    "12",
    "6.2 Replacing the filter",
    "Replace the HEPA filter every 12 months. Turn the unit off before opening the cover.",
)


def test_prompt_round_trips_through_the_parser():
    messages = render_answer_prompt("How often?", [AC300, AC200])
    question, passages = parse_answer_prompt(messages[-1]["content"])
    assert question == "How often?"
    assert passages == [AC300, AC200]


def test_prefers_the_passage_of_the_product_named_in_the_question():
    answer = answer_extractively(
        "How often do I replace the HEPA filter on the AC-200?", [AC300, AC200]
    )
    assert not answer.abstained
    assert "every 6 months" in answer.text
    assert "12 months" not in answer.text
    assert answer.text.endswith("[2]")


def test_abstains_when_no_sentence_covers_the_question():
    answer = answer_extractively("What is the warranty period in Brazil?", [AC300, AC200])
    assert answer.abstained
    assert answer.text == ABSTAIN_TEXT
