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


def test_a_command_and_a_note_between_two_steps_belong_to_the_procedure():
    units = split_units(
        "To change the password:\n\n1. Open the terminal.\n\n2. Gain root rights:\n\n"
        "$ su -\n\nWhen prompted for a password, use root.\n\n3. Run passwd.\n\n"
        "The web interface keeps its own password."
    )
    note = next(u for u in units if u.text.startswith("When prompted"))
    assert note.shown.startswith("To change the password:\n1. Open the terminal.")
    assert "2. Gain root rights:\n$ su -\nWhen prompted for a password, use root.\n3. Run" in (
        note.shown
    )
    assert units[-1].shown == "The web interface keeps its own password."


def test_a_numbered_heading_above_steps_numbered_from_one_is_not_their_step():
    units = split_units(
        "4. Dosing with the timer\n1. Press TIMER.\n2. Turn the dial to set the time.\n"
        "3. Press START."
    )
    steps = [u for u in units if u.text.startswith(("1.", "2.", "3."))]
    assert [u.shown for u in steps] == [
        "1. Press TIMER.\n2. Turn the dial to set the time.\n3. Press START."
    ] * 3
    assert units[0].shown == "4. Dosing with the timer"


def test_a_markdown_table_without_its_rule_is_labelled_by_its_header_and_caption():
    # A table laid out with no rule under its header; trafilatura makes a <caption> a row.
    battery = split_units(
        "Battery life\n\n| Typical playing time | | |\n| Volume | Bluetooth | Wi-Fi |\n"
        "| 25 % | 24 hours | 16 hours |\n| 50 % | 18 hours | 12 hours |"
    )
    assert [u.text for u in battery if u.kind == "row"] == [
        "Typical playing time: Volume: 25 %; Bluetooth: 24 hours; Wi-Fi: 16 hours",
        "Typical playing time: Volume: 50 %; Bluetooth: 18 hours; Wi-Fi: 12 hours",
    ]
    specs = split_units("Specifications\n\n| Weight | 2.9 kg |\n| Motor | 200 W |")
    # With no header known, a row's first cell labels the others.
    assert [u.text for u in specs if u.kind == "row"] == ["Weight: 2.9 kg", "Motor: 200 W"]
    words = split_units("Problems\n\n| Problem | Remedy |\n| No sound | Unmute it |")
    rows = [u.text for u in words if u.kind == "row"]
    assert rows == ["Problem: Remedy", "No sound: Unmute it"]  # no figure: no header known
    codes = split_units("Errors\n\n| E09 | Too steep | Move the wire. |\n| E10 | Lifted | |")
    rows = [u.text for u in codes if u.kind == "row"]
    assert rows == ["E09: Too steep; Move the wire.", "E10: Lifted"]
    # A first row of sentences is data, not a header, even above figures.
    faults = split_units("| The fan stops. | Clean it. |\n| The fan is loud. | Use speed 2. |")
    assert next(u.text for u in faults) == "The fan stops. Clean it."


def test_a_caption_row_above_a_rule_titles_the_table_whose_header_follows():
    # trafilatura writes a <caption> as a first row with its own rule, the header below it.
    units = split_units(
        "Status lights\n\n| Status light patterns | |\n|---|---|\n| Light | Meaning |\n"
        "|---|---|\n| Flashing red and amber | Moisture in the socket. |"
    )
    assert [u.text for u in units if u.kind == "row"] == [
        "Status light patterns: Light: Flashing red and amber; Meaning: Moisture in the socket."
    ]


def test_a_stop_left_at_the_start_of_a_pdf_line_is_dropped():
    units = split_units(
        "Preheat the nozzle then pull out the old filament. Next, insert the new filament.\n"
        ". Continue feeding until you see filament come out of the nozzle.\n."
    )
    assert [u.text for u in units] == [
        "Preheat the nozzle then pull out the old filament.",
        "Next, insert the new filament.",
        "Continue feeding until you see filament come out of the nozzle.",
    ]


def test_a_table_row_is_shown_with_its_header():
    table = "| Code | Meaning | What to do |\n|---|---|---|\n| E1 | Filter missing | Fit a filter |"
    (row,) = split_units(table)
    assert row.kind == "row"
    assert row.shown == "Code: E1; Meaning: Filter missing; What to do: Fit a filter"


def test_a_cell_under_a_column_with_no_name_keeps_its_text():
    # A header cell spanning two columns leaves the second without a name.
    table = "| Light | State | |\n|---|---|---|\n| Red | on | Overheated: let it cool |"
    (row,) = split_units(table)
    assert row.shown == "Light: Red; State: on; Overheated: let it cool"


def test_wrapped_pdf_lines_are_one_sentence_and_short_spec_lines_stay_apart():
    text = (
        "Clean the pre-filter with a vacuum cleaner every two weeks so that the main\n"
        "filter lasts longer.\n"
        "Rated voltage 220-240 V\n"
        "Noise level 40 dB\n"
        "12"
    )
    texts = [u.text for u in split_units(text)]
    assert texts[0] == (
        "Clean the pre-filter with a vacuum cleaner every two weeks so that the main "
        "filter lasts longer."
    )
    assert "Rated voltage 220-240 V" in texts
    assert "Noise level 40 dB" in texts
    assert not any(t.endswith("12") for t in texts)  # the page number is no cell


def test_a_table_extracted_one_cell_per_line_yields_its_rows():
    # How pypdf lays out a two-column specification table: label and value on lines of
    # their own, with nothing marking where a row starts.
    text = (
        "Table 10. Technical data\n"
        "Rated power\n"
        "35 W\n"
        "Weight\n"
        "4.1 kg\n"
        "Power cord length\n"
        "1.8 m\n"
        "Filter life\n"
        "6 months (about\n"
        "2,200 hours)\n"
        "Keep the purifier upright when you carry it up or down the stairs."
    )
    units = split_units(text)
    rows = [u.text for u in units if u.kind == "row"]
    assert {"Rated power 35 W", "Weight 4.1 kg", "Power cord length 1.8 m"} <= set(rows)
    assert "Filter life 6 months (about 2,200 hours)" in rows
    assert "Filter life 6 months (about" not in rows  # a cell wrapped onto the next line
    assert "Weight" not in rows  # a lone cell too short to be a row is no unit
    assert "Weight 4.1 kg Power cord length" not in rows  # ends on the next row's label
    assert "4.1 kg Power cord length 1.8 m" not in rows  # starts on another label's figure
    assert units[-1].kind == "sentence"
    assert units[-1].text.startswith("Keep the purifier upright")


def test_units_remember_their_passage_and_order():
    units = split_units("First sentence here. Second sentence here.", passage=3)
    assert [(u.passage, u.ordinal) for u in units] == [(3, 0), (3, 1)]


def test_table_of_contents_entries_are_no_answers():
    text = (
        "Contents\n"
        "8.3 Restoring factory settings 20\n"
        "8.4 Error codes ........ 21\n"
        "4. Schematics and dimensions ... 8\n"
        "Figure 2: Main display of the transceiver.\n"
        "9 Technical specifications 22\n"
        "1. Set the dial to position 3\n"
        "and wait until the light turns green."
    )
    assert [u.text for u in split_units(text)] == [
        "1. Set the dial to position 3 and wait until the light turns green."
    ]


def test_a_table_of_contents_with_page_numbers_on_their_own_lines_is_no_answer():
    # pypdf often puts each entry's page number on a line of its own.
    text = (
        "8 Troubleshooting\n19\n8.1 Common problems\n19\n8.2 Error codes\n19\n"
        "8.3 Restoring factory settings\n20\n9 Technical specifications\n21\n"
        "About this manual\n"
        "This manual covers the purifier with firmware 1.8 or later."
    )
    assert [u.text for u in split_units(text)] == [
        "This manual covers the purifier with firmware 1.8 or later."
    ]


def test_a_question_in_the_text_is_joined_with_its_answer():
    text = (
        "- I power the board from the Ethernet connector. What current is left for my sensors?\n"
        "About 200 mA at 5 V is left for external devices.\n"
        "Keep the cable short."
    )
    assert [u.text for u in split_units(text)] == [
        "- I power the board from the Ethernet connector. What current is left for my sensors? "
        "About 200 mA at 5 V is left for external devices.",
        "Keep the cable short.",
    ]


def test_a_code_alone_on_its_line_labels_the_row_that_follows_it():
    # An error table extracted from a PDF one cell per line: the meaning is a short line
    # that must not be dropped as a heading, nor the code joined to the previous remedy.
    text = (
        "Code\nMeaning\nWhat to do\n"
        "E1\nFan motor blocked\nUnplug the purifier and check the outlet grille.\n"
        "E2\nFilter not recognised\nCheck that a genuine filter is fitted.\n"
        "E22\nWi-Fi module not responding"
    )
    rows = [u.text for u in split_units(text) if u.text.startswith("E")]
    assert rows == [
        "E1: Fan motor blocked; Unplug the purifier and check the outlet grille.",
        "E2: Filter not recognised; Check that a genuine filter is fitted.",
        "E22: Wi-Fi module not responding",
    ]
    assert all(u.kind == "row" for u in split_units(text) if u.text in rows)
