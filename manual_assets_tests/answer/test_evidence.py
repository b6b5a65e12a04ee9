"""Evidence scoring: the lead of the best unit is measured against rival places only."""

from __future__ import annotations

from functools import partial

import numpy as np

from manualqa.answer.evidence import (
    FEATURES,
    Candidate,
    LinearModel,
    PassageInfo,
    companion,
    gather,
)
from manualqa.answer.text import (
    codes,
    content_terms,
    counted,
    counts,
    measures_asked,
    measures_in,
    repeats,
    spaced_models,
)
from manualqa.answer.units import AnswerUnit

CONFIDENCE = LinearModel({"lead": 1.0}, ("lead",))
RANKER = LinearModel({"cosine": 1.0}, FEATURES)


def _unit(passage: int, text: str) -> AnswerUnit:
    return AnswerUnit(passage, 0, "sentence", text, text)


def _lead(passages: list[PassageInfo], cosines: list[float]) -> float:
    units = [_unit(i, f"unit {i} of the manual") for i in range(len(passages))]
    # Unit vectors whose dot product with the question vector is the given cosine.
    vectors = np.array([[c, (1 - c * c) ** 0.5] for c in cosines], dtype=np.float32)
    question = np.array([1.0, 0.0], dtype=np.float32)
    evidence = gather("what is it", units, vectors, question, passages, RANKER, CONFIDENCE)
    return evidence.confidence_features["lead"]


def test_a_count_written_out_is_its_figure():
    assert content_terms("It blinks red three times") == ["blink", "red", "3", "time"]
    assert content_terms("they turned it off themselves") == ["turned"]  # pronouns say nothing
    assert content_terms("Red, blinks 3 times") == ["red", "blink", "3", "time"]
    assert "1" not in content_terms("the one that played last")  # "one" is a pronoun too


def test_a_step_is_scored_on_the_words_of_its_whole_procedure():
    # An answer quotes a step with its procedure, so the procedure's words count for it.
    procedure = "1. Switch the speaker on.\n2. Open the Bluetooth settings of your phone."
    units = [
        AnswerUnit(0, 0, "step", "1. Switch the speaker on.", procedure),
        AnswerUnit(0, 1, "sentence", "The speaker is waterproof.", "The speaker is waterproof."),
    ]
    vectors = np.array([[1.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    passage = [PassageInfo(0.5, "Setup", "hs-5", None, "Setup")]
    evidence = gather(
        "How do I connect my phone over Bluetooth?",
        units, vectors, vectors[0], passage, RANKER, CONFIDENCE,
    )  # fmt: skip
    coverage = {c.unit.kind: c.features["term_coverage"] for c in evidence.candidates}
    assert coverage["sentence"] == 0.0
    assert coverage["step"] > 0.5  # "phone" and "Bluetooth" are in step 2


def test_how_many_asks_for_a_count_of_its_noun_beside_a_number():
    assert counted("How many watering programs can the IC-6 store?") == "program"
    assert counted("How many HP of rack space does it need?") == "hp"
    assert counted("How heavy is it?") is None
    assert counts("Item: Zones; Value: 6 (plus master valve)", "zone")
    assert counts("It controls up to six irrigation zones.", "zone")
    assert not counts("Zone output: 24 V AC, max. 0.56 A per zone", "zone")  # a current
    assert not counts("Drain the zones before the first frost of the 2024 season.", "zone")
    units = [
        _unit(0, "Zone output: 24 V AC, max. 0.56 A per zone"),
        _unit(0, "Zones: 6 (plus master valve)"),
    ]
    vectors = np.array([[1.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    passage = [PassageInfo(0.5, "Specifications", "ic-6", None, "Specifications")]
    ranker = LinearModel({"count_match": 1.0}, FEATURES)
    question = "How many zones can the IC-6 water?"
    evidence = gather(question, units, vectors, vectors[0], passage, ranker, CONFIDENCE)
    assert evidence.candidates[0].unit.text == "Zones: 6 (plus master valve)"


def test_an_overlapping_chunk_of_the_same_page_is_no_rival():
    page_21 = PassageInfo(0.5, "Specifications", "manual-a", (21, 21), "9 Specifications")
    again_21 = PassageInfo(0.5, "Specifications", "manual-a", (20, 21), "9 Specifications")
    page_4 = PassageInfo(0.5, "Safety", "manual-a", (4, 4), "1 Safety")
    lead = _lead([page_21, again_21, page_4], [0.9, 0.88, 0.5])
    assert abs(lead - 0.4) < 1e-5  # measured against page 4, not the repeat on page 21


def test_another_manual_or_section_is_a_rival():
    paged = PassageInfo(0.5, "", "manual-a", (3, 3), "Setup")
    other_manual = PassageInfo(0.5, "", "manual-b", (3, 3), "Setup")
    assert abs(_lead([paged, other_manual], [0.9, 0.8]) - 0.1) < 1e-5
    unpaged = PassageInfo(0.5, "", "manual-c", None, "Setup")
    same_section = PassageInfo(0.5, "", "manual-c", None, "Setup")
    other_section = PassageInfo(0.5, "", "manual-c", None, "Cleaning")
    assert abs(_lead([unpaged, same_section, other_section], [0.9, 0.85, 0.6]) - 0.3) < 1e-5


def test_speeds_are_a_measure_of_their_own():
    assert measures_asked("How fast can it print?") == {"speed"}
    assert measures_asked("How fast does the chuck spin in gear 2?") == {"speed", "rotation"}
    assert measures_in("Print speed up to 180 mm/s") == {"speed"}
    assert measures_in("Filter life 6 months / about 2,200 hours") == {"time"}


def test_squared_cubed_and_per_time_units_are_areas_volumes_and_flows():
    assert measures_in("Cleaning area up to 200 m²") == {"area"}
    assert measures_in("Room size 20 m2, cable 1.5 mm2") == {"area"}
    assert measures_in("Airflow 180 m³/h") == {"flow"}
    assert measures_in("Water flow 60-180 ml/min") == {"flow"}
    assert measures_in("Suction 2500 Pa; pump 15 bar") == {"pressure"}
    assert measures_in("Cable length 2 m") == {"length"}
    assert measures_in("Hardware v2 board") == set()  # a revision, no voltage
    assert measures_asked("How much water does the tank hold?") == {"volume"}
    assert measures_asked("How strong is the suction?") == {"pressure"}
    assert "area" in measures_asked("How big a room can it clean?")


def test_how_large_asks_for_a_size_and_a_bracketed_size_states_one():
    assert measures_asked("How large is the board?") == {"length", "area"}
    assert measures_asked("What are its dimensions?") == {"length"}
    assert measures_asked("Is the large tank dishwasher safe?") == set()
    assert measures_asked("How quiet is it in night mode?") == {"sound"}
    assert measures_in("Dimensions: (50 x 62)mm ~ (1.95 x 2.45)") == {"length"}


def test_a_unit_the_question_names_but_no_passage_states_is_unstated():
    from manualqa.answer.text import units_named

    assert units_named("What is the top speed of the RM-500 in km/h?") == {"speed"}
    assert units_named("How many watts does it draw?") == {"power"}
    assert units_named("Is 5 mA enough to drive it?") == set()  # a figure given, not asked
    assert units_named("How often per month should I clean it?") == set()  # 'once a month'
    assert units_named("How do I put a new bit in the drill?") == set()  # a drill bit
    assert units_named("Can I plug my guitar amp into it?") == set()
    assert units_named("What does the status bar show?") == set()
    assert units_named("How many m² can it clean?") == {"area"}
    assert units_named("How many amps does the charger draw?") == {"current"}
    assert units_named("Can I use it in my bathroom?") == set()
    # A word ending in "ss" keeps its s: "low-pass" names no pascal.
    assert units_named("How do I change the decay of the low-pass gate?") == set()
    assert units_named("How many kPas?") == {"pressure"}
    units = [_unit(0, "Blade speed 3,000 rpm; cutting height 20 to 60 mm.")]
    vectors = np.array([[1.0, 0.0]], dtype=np.float32)
    passage = [PassageInfo(0.5, "Specifications", "rm-500", (3, 3), "Specifications")]

    def unstated(question: str) -> frozenset[str]:
        evidence = gather(question, units, vectors, vectors[0], passage, RANKER, CONFIDENCE)
        return evidence.unstated

    # A blade's rpm is no travel speed.
    assert unstated("What is the top speed of the RM-500 in km/h?") == {"speed"}
    assert unstated("What cutting height in mm can I set?") == frozenset()
    # Some questions can only be answered with a figure of one kind, unit named or not.
    assert unstated("How heavy is the RM-500?") == {"mass"}
    assert unstated("How much does the RM-500 weigh?") == {"mass"}
    assert unstated("How hot does the motor get?") == {"temperature"}
    assert unstated("How loud is it on the highest setting?") == {"sound"}
    # A price is a figure too, and manuals rarely state one.
    assert unstated("How much does a Mowbot RM-500 cost?") == {"money"}
    assert measures_in("Spare blades: 9 blades for $19.90") == {"money"}
    assert measures_in("Replacement filter 39 EUR") == {"money"}
    assert measures_in("Install an LTE/5G modem") == set()  # a network, not 5 grams
    assert measures_in("Weight: 250 g") == {"mass"}
    # A cell read with its column's name states the unit in the name.
    assert measures_in("Setting: Speed 3; Noise (dB(A)): 52; Power (W): 35") == {"sound", "power"}
    assert measures_in("Zones (max): 6") == set()
    # Asked the value of a figure noun, any kind that measures it answers: a blade's rpm
    # is a speed; no passage states a capacity in litres, mAh or Wh.
    assert unstated("What is the blade speed of the RM-500?") == frozenset()
    assert unstated("What's the battery capacity of the RM-500?") == {
        "volume", "charge", "mass", "data",
    }  # fmt: skip
    assert unstated("What can I do to raise the blade speed?") == frozenset()  # a procedure
    assert unstated("What is the speed setting for wet grass?") == frozenset()  # a setting


def _unknown_names(question: str, unit: str, passage: PassageInfo) -> frozenset[str]:
    """The names `gather` finds in `question` that one passage of one unit does not hold."""
    vectors = np.array([[1.0, 0.0]], dtype=np.float32)
    units = [_unit(0, unit)]
    evidence = gather(question, units, vectors, vectors[0], [passage], RANKER, CONFIDENCE)
    assert evidence.cannot_answer == bool(evidence.unknown_names)
    return evidence.unknown_names


def test_a_model_number_or_name_no_passage_holds_cannot_be_answered():
    unit = "The RM-500 mows up to 600 m² per charge and works with Alexa."
    passage = PassageInfo(
        0.5, "Mowbot RM500", "rm-500", (3, 3), "Specifications", "Verdant Garden Tech"
    )
    unknown = partial(_unknown_names, unit=unit, passage=passage)

    assert unknown("How much lawn does the Mowbot RM-800 mow?") == {"rm-800"}
    assert unknown("How much lawn does the rm500 mow?") == frozenset()  # spelt differently
    assert unknown("Can my 8-year-old start it?") == frozenset()  # not a model number
    assert unknown("Can I control the Mowbot from Apple HomeKit?") == {"Apple", "HomeKit"}
    assert unknown("Does the Verdant mower work with Alexa?") == frozenset()  # vendor, text
    assert unknown("Is it OK to run it when my PC is off? Which zones?") == frozenset()
    assert unknown("How Do I Descale My Mowbot?") == frozenset()  # title case names nothing
    # A count joined to its word is no model number, an abbreviation's plural no name.
    assert unknown("How long do 10-second clips last on two AAs?") == frozenset()
    assert codes("10-second clips, a 3-pin plug, a 2.5-inch drive, the AC-200") == {"ac-200"}


def test_a_heading_repeated_in_the_body_says_nothing_new():
    context = "Halo HS-5 Wireless Speaker User Guide Halo HS-5 Nordlys Audio"
    assert repeats("Halo HS-5 Wireless Speaker User Guide", context)
    assert not repeats("The Halo HS-5 plays for 12 hours at half volume.", context)


def test_a_question_only_a_figure_answers_is_answered_by_a_figure():
    units = [_unit(0, "Carry the purifier by the base with both hands."), _unit(1, "Weight 4.1 kg")]
    vectors = np.array([[0.9, 0.43589], [0.5, 0.86603]], dtype=np.float32)
    passages = [
        PassageInfo(0.5, "Transport", "ac-200", (23, 23), "11 Transport"),
        PassageInfo(0.5, "Specifications", "ac-200", (21, 21), "9 Specifications"),
    ]
    question = np.array([1.0, 0.0], dtype=np.float32)
    heavy = gather("How heavy is it?", units, vectors, question, passages, RANKER, CONFIDENCE)
    assert heavy.candidates[0].unit.text == "Weight 4.1 kg"
    assert heavy.confidence_features["lead"] == 1.0  # no other unit states a weight
    carry = gather("How do I carry it?", units, vectors, question, passages, RANKER, CONFIDENCE)
    assert carry.candidates[0].unit.text.startswith("Carry")


def test_a_figure_stated_only_beside_other_things_than_the_asked_code_cannot_answer():
    # The manual names the PB-1000 battery, but the only weight it gives is the station's.
    passages = [
        PassageInfo(0.5, "Expansion battery", "ps-600", None, "8 Expansion battery"),
        PassageInfo(0.5, "Specifications", "ps-600", None, "12 Specifications"),
    ]
    mention = _unit(0, "The PS-1000 takes one PB-1000 expansion battery (1024 Wh).")
    vectors = np.array([[1.0, 0.0], [0.8, 0.6]], dtype=np.float32)

    def answer(weight_row: str) -> frozenset[str]:
        units = [mention, _unit(1, weight_row)]
        evidence = gather(
            "How much does the PB-1000 weigh?", units, vectors, vectors[0], passages,
            RANKER, CONFIDENCE,
        )  # fmt: skip
        assert evidence.cannot_answer == bool(evidence.figure_elsewhere)
        return evidence.figure_elsewhere

    assert answer("Weight: PS-600 7.3 kg, PS-1000 11.5 kg") == {"pb-1000"}
    assert answer("Weight: 7.3 kg; PB-1000 battery 9.1 kg") == frozenset()


def test_a_page_retrieved_several_times_counts_its_hits():
    import math

    from manualqa.answer.evidence import _Words, unit_features

    passages = [
        PassageInfo(0.5, "Maintenance", "manual-a", (15, 15), "6.1 Maintenance schedule"),
        PassageInfo(0.5, "Filter", "manual-a", (16, 17), "6.3 Replacing the filter"),
        PassageInfo(0.5, "Filter", "manual-a", (17, 17), "6.3 Replacing the filter"),
        PassageInfo(0.5, "Filter", "manual-b", (17, 17), "6.3 Replacing the filter"),
    ]
    units = [_unit(i, f"unit {i} of the manual") for i in range(len(passages))]
    vectors = np.tile(np.array([[1.0, 0.0]], dtype=np.float32), (len(units), 1))
    words = _Words.of(units, passages)
    features = unit_features("what is it", units, vectors, vectors[0], passages, words)
    # Pages 16-17 and 17 of manual-a overlap; manual-b's page 17 is another place.
    assert [f["place_hits"] for f in features] == [0.0, math.log(2), math.log(2), 0.0]


def test_an_abbreviation_no_passage_holds_is_missing():
    from manualqa.answer.text import acronyms

    assert acronyms("Which LTE modem fits? Do the LEDs blink? Is it OK?") == {"lte", "led", "ok"}
    assert acronyms("Does the ESP32-POE have I2C?") == set()  # codes, not abbreviations
    units = [_unit(0, "The two LEDs show the power and the Wi-Fi state.")]
    vectors = np.array([[1.0, 0.0]], dtype=np.float32)
    passage = [PassageInfo(0.5, "Indicators HS-5", "hs-5", (3, 3), "Indicators", "Nordlys")]

    def missing(question: str) -> float:
        evidence = gather(question, units, vectors, vectors[0], passage, RANKER, CONFIDENCE)
        return evidence.confidence_features["missing_acronym"]

    assert missing("What does the blinking LED mean?") == 0.0
    assert missing("How do I tune in FM stations?") == 1.0
    assert missing("What does the VOC icon mean?") == 1.0
    assert missing("Do the LEDs stay on?") == 0.0
    assert acronyms("Can I use AAs?") == {"aa"}  # a plural too short to fold as a word


def test_the_topic_coverage_leaves_out_the_words_naming_the_manual():
    units = [
        _unit(0, "Blow the dust out of the motor vents after each use."),
        _unit(0, "Do not use solvents on the housing."),
    ]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    passage = [
        PassageInfo(0.5, "Maintenance D18 drill", "d18", None, "Maintenance", "TorqPro D18 drill")
    ]

    def coverage(question: str) -> tuple[float, float]:
        evidence = gather(question, units, vectors, vectors[0], passage, RANKER, CONFIDENCE)
        features = evidence.confidence_features
        return features["coverage_all"], features["topic_coverage"]

    everything, topic = coverage("Is the TorqPro D18 drill waterproof?")
    assert everything > 0.5 and topic == 0.0  # only the product's name was found
    assert coverage("Should I blow the dust out of the D18 motor vents?")[1] == 1.0
    name_only = coverage("TorqPro D18 drill")
    assert name_only[1] == name_only[0] > 0  # nothing but the name: the name counts


def test_a_unit_naming_a_sibling_of_the_asked_code_and_not_it_comes_last():
    units = [
        _unit(0, "Problem: The display shows E1; Remedy: Let the grinder cool for 30 minutes."),
        _unit(0, "Problem: The display shows E2; Remedy: Turn the hopper until it clicks."),
        _unit(0, "Unplug the grinder before you clean the chute."),
    ]
    # The E1 row reads closest to the question; the E2 row is the answer.
    vectors = np.array([[1.0, 0.0], [0.6, 0.8], [0.28, 0.96]], dtype=np.float32)
    passage = [PassageInfo(0.5, "Troubleshooting G-40", "g-40", None, "Troubleshooting", "G-40")]
    evidence = gather(
        "The display says E2, what is wrong?",
        units,
        vectors,
        vectors[0],
        passage,
        RANKER,
        CONFIDENCE,
    )
    order = [c.unit.text[:31] for c in evidence.candidates]
    assert order[0] == "Problem: The display shows E2; "
    assert order[-1] == "Problem: The display shows E1; "  # another fault
    plain = gather("What is wrong?", units, vectors, vectors[0], passage, RANKER, CONFIDENCE)
    assert plain.candidates[0].unit is units[0]  # no code asked: the ranker's order


def test_a_code_the_question_asks_about_is_answered_by_a_unit_showing_it():
    units = [
        _unit(0, "If a fault occurs, the humidifier shows an error code on the display."),
        _unit(0, "E3: Transducer overheated; Let the unit cool down for 30 minutes."),
    ]
    # The general sentence reads closer to the question than the row that answers it.
    vectors = np.array([[0.9, 0.43589], [0.5, 0.86603]], dtype=np.float32)
    passage = [PassageInfo(0.5, "Error codes HM-7", "hm-7", (6, 6), "Error codes", "Kelvo HM-7")]
    question = np.array([1.0, 0.0], dtype=np.float32)

    def best(asked: str) -> str:
        evidence = gather(asked, units, vectors, question, passage, RANKER, CONFIDENCE)
        return evidence.candidates[0].unit.text[:3]

    assert best("The display shows E3. What does that mean?") == "E3:"
    # A code naming the manual's own product says nothing about which unit answers.
    assert best("What does the HM-7 display show on a fault?") == "If "
    assert best("The display shows E7. What does that mean?") == "If "  # no unit shows E7


def test_a_row_the_asked_code_labels_comes_before_a_sentence_mentioning_it():
    units = [
        AnswerUnit(
            0, 0, "step", "7. Rinse until the display shows --; the A3 counter is reset.", ""
        ),
        AnswerUnit(0, 1, "row", "Code: A3; Meaning: Descaling due.; Remedy: Descale it.", ""),
        AnswerUnit(0, 2, "row", "Code: A2; Meaning: Boiler hot, A3 later.; Remedy: Wait.", ""),
    ]
    # The step reads closer to the question than the row that says what A3 means.
    vectors = np.array([[0.9, 0.43589], [0.5, 0.86603], [0.4, 0.9165]], dtype=np.float32)
    passage = [PassageInfo(0.5, "Error codes EM-3", "em-3", (7, 7), "Errors", "Aurelle EM-3")]
    question = np.array([1.0, 0.0], dtype=np.float32)

    def order(asked: str) -> list[int]:
        evidence = gather(asked, units, vectors, question, passage, RANKER, CONFIDENCE)
        return [c.unit.ordinal for c in evidence.candidates]

    assert order("My machine shows A3, what now?") == [1, 0, 2]
    # A code not presented as something the machine shows (a pin, a terminal, a part)
    # may be asked about for a procedure: the units keep their scores' order.
    assert order("How do I reset the A3 counter?") == [0, 1, 2]
    # The row that answers leads no rival: the confidence is not held down by the
    # better-scoring sentence it was moved ahead of.
    shown = gather("The display shows A3", units, vectors, question, passage, RANKER, CONFIDENCE)
    assert shown.confidence_features["lead"] == 1.0


def test_a_definition_the_asked_code_labels_comes_before_a_sentence_mentioning_it():
    units = [
        _unit(0, "If the tank is removed, the appliance shows error E4 and does not run."),
        AnswerUnit(1, 0, "item", "- E4 - Tank missing or float stuck: Check the float.", ""),
    ]
    vectors = np.array([[0.9, 0.43589], [0.5, 0.86603]], dtype=np.float32)
    passages = [
        PassageInfo(0.5, "Emptying the tank DH-20", "dh-20", None, "Tank", "Halden DH-20"),
        PassageInfo(0.5, "Error codes DH-20", "dh-20", None, "Error codes", "Halden DH-20"),
    ]
    question = np.array([1.0, 0.0], dtype=np.float32)
    asked = "My DH-20 shows E4 although the tank is in. What do I check?"
    evidence = gather(asked, units, vectors, question, passages, RANKER, CONFIDENCE)
    assert evidence.candidates[0].unit.kind == "item"


def test_a_sibling_model_written_with_a_space_cannot_be_answered():
    assert spaced_models("What build volume does the Creality Ender 5 have?") == {
        ("Ender", "Ender 5")
    }
    assert spaced_models("Is the Ender 3.5 out? Set it to 12 o'clock.") == set()
    unit = "Level the bed of the Ender-3 with a sheet of paper on each zone 1 to 4."
    passage = PassageInfo(
        0.5, "Levelling", "ender-3", (3, 3), "Levelling", "Creality Ender-3 Guide"
    )
    unknown = partial(_unknown_names, unit=unit, passage=passage)

    assert unknown("What build volume does the Creality Ender 5 have?") == {"Ender 5"}
    assert unknown("How do I level the Ender 3 bed?") == frozenset()
    # A name no manual's title holds is no model name ("Zone 6").
    assert unknown("Where does the paper go on Zone 6 of the Ender 3?") == frozenset()


def test_the_companion_is_the_next_best_unit_of_the_same_place_that_adds_something():
    page_20 = PassageInfo(0.6, "Troubleshooting", "manual-a", (20, 20), "8 Troubleshooting")
    also_20 = PassageInfo(0.6, "Troubleshooting", "manual-a", (19, 20), "8 Troubleshooting")
    page_9 = PassageInfo(0.6, "Display", "manual-a", (9, 9), "4 Display")

    def candidate(passage: int, text: str, score: float, kind: str = "sentence") -> Candidate:
        return Candidate(AnswerUnit(passage, 0, kind, text, text), {}, score)  # type: ignore[arg-type]

    symptom = candidate(0, "The VOC icon is purple after painting.", 2.0)
    elsewhere = candidate(2, "Purple means very poor air.", 1.95)
    repeat = candidate(1, "the VOC icon is  purple after painting.", 1.9)  # the overlap
    remedy = candidate(1, "Air the room for 10 minutes.", 1.8)
    far = candidate(0, "Contact customer service.", 1.0)
    passages = [page_20, also_20, page_9]
    ranked = [symptom, elsewhere, repeat, remedy, far]
    pick = partial(companion, "The VOC icon turned purple. What should I do?", ranked)
    assert pick(symptom, passages, 0.3) is remedy  # not page 9, not the repeated sentence
    assert pick(symptom, passages, 0.1) is None  # the remedy scores too far below
    assert pick(remedy, passages, 0.3) is None  # nothing within the margin adds to it
    row = candidate(0, "Weight 4.1 kg", 2.0, "row")
    assert companion("What does it weigh?", [row, remedy], row, passages, 9.0) is None
    weight = candidate(0, "It weighs 4.1 kg without the filter.", 2.0)
    assert companion("How heavy is it?", [weight, remedy], weight, passages, 9.0) is None
    assert companion("Where is it?", [symptom, row], symptom, passages, 9.0) is None
    # Asked about a code the chosen unit shows, the companion shows it too.
    e2 = candidate(0, "The purifier shows error E2 if no genuine filter is fitted.", 2.0)
    interval = candidate(0, "Replace the main filter every 12 months.", 1.9)
    check = candidate(0, "If E2 stays on, refit the filter cover.", 1.8)
    ranked = [e2, interval, check]
    assert companion("It shows E2. What is wrong?", ranked, e2, passages, 0.3) is check
    assert companion("What is wrong with it?", ranked, e2, passages, 0.3) is interval
