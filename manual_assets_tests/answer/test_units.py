from manualqa.answer.units import split_units

PROCEDURE = """To reset the filter reminder, proceed as follows:
1. Switch the purifier on.
2. Press and hold Filter for 3 seconds. The icon
goes out.
3. Release the button.
Replace the filter every 6 months."""


def test_steps_carry_their_whole_procedure_and_its_lead_in():
    units = split_units(PROCEDURE)
    steps = [u for u in units if u.kind == "step"]
    assert [u.text[:2] for u in steps] == ["1.", "2.", "3."]
    assert steps[1].text == "2. Press and hold Filter for 3 seconds. The icon goes out."
    for unit in steps:
        assert unit.shown.startswith("To reset the filter reminder, proceed as follows:")
        assert unit.shown.endswith("3. Release the button.")
    lead_in = units[0]
    assert lead_in.shown == steps[0].shown  # the lead-in quotes the steps it introduces
    assert units[-1].text == "Replace the filter every 6 months."
    assert units[-1].shown == units[-1].text


def test_a_table_row_is_shown_with_its_header():
    table = "| Code | Meaning | What to do |\n|---|---|---|\n| E1 | Filter missing | Fit a filter |"
    (row,) = split_units(table)
    assert row.kind == "row"
    assert row.shown == "Code: E1; Meaning: Filter missing; What to do: Fit a filter"


def test_wrapped_pdf_lines_are_one_sentence_and_short_spec_lines_stay_apart():
    text = (
        "Clean the pre-filter with a vacuum cleaner every two weeks so that the main\n"
        "filter lasts longer.\n"
        "Rated voltage 220-240 V\n"
        "Noise level 40 dB\n"
        "12"
    )
    assert [u.text for u in split_units(text)] == [
        "Clean the pre-filter with a vacuum cleaner every two weeks so that the main "
        "filter lasts longer.",
        "Rated voltage 220-240 V",
        "Noise level 40 dB",
    ]


def test_units_remember_their_passage_and_order():
    units = split_units("First sentence here. Second sentence here.", passage=3)
    assert [(u.passage, u.ordinal) for u in units] == [(3, 0), (3, 1)]
