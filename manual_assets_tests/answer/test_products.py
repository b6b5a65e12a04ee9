from manualqa.answer.products import ProductDirectory, model_mentions
from manualqa.documents import ManualProfile

POE = ManualProfile(
    "poe",
    "Olimex",
    "ESP32-POE / ESP32-POE-ISO development board (PoE)",
    "ESP32-POE user manual",
    model_mentions=model_mentions("ESP32-PoE-ISO " * 6 + "ESP32 " * 10 + "GPIO12 " * 5),
)
GATEWAY = ManualProfile(
    "gateway",
    "Olimex",
    "ESP32-GATEWAY (ESP32 + Ethernet board)",
    "ESP32-GATEWAY user manual",
    model_mentions=model_mentions("ESP32 " * 12 + "ESP32-PoE-ISO"),
)
V3 = ManualProfile("v3", "PiKVM", "PiKVM V3 HAT & pre-assembled quickstart guide", "V3")
V4 = ManualProfile("v4", "PiKVM", "PiKVM V4 Mini & Plus KVM-over-IP quickstart guide", "V4")
CLOUDS = ManualProfile("clouds", "Mutable Instruments", "Clouds granular processor", "Clouds")
BEADS = ManualProfile("beads", "Mutable Instruments", "Beads granular processor", "Beads")
DIRECTORY = ProductDirectory([POE, GATEWAY, V3, V4, CLOUDS, BEADS])


def test_a_named_product_scopes_the_question_to_its_manual():
    assert DIRECTORY.scope("Which PHY chip is on the ESP32-POE?") == ("poe",)
    assert DIRECTORY.scope("How do I flash the esp32-gateway?") == ("gateway",)
    assert DIRECTORY.scope("Does the PiKVM V4 Plus have a fan?") == ("v4",)
    assert DIRECTORY.scope("What does the Beads texture knob do?") == ("beads",)


def test_a_model_number_from_the_text_names_its_manual_when_it_extends_the_products_name():
    # ESP32-PoE-ISO is mentioned mostly in the ESP32-POE manual and extends its name.
    assert DIRECTORY.scope("Is the ESP32-PoE-ISO isolated?") == ("poe",)
    # GPIO12 is frequent there too, but it is a pin, not a product name.
    assert DIRECTORY.scope("What is GPIO12 used for?") == ()


def test_a_family_name_keeps_every_product_of_the_family():
    assert DIRECTORY.scope("How do I log in to my PiKVM?") == ("v3", "v4")
    assert DIRECTORY.scope("Does the Olimex ESP32 board have Ethernet?") == ("gateway", "poe")


def test_plain_words_name_a_product_only_when_capitalised():
    assert DIRECTORY.scope("how many clouds are in the sky") == ()
    assert DIRECTORY.scope("What do I connect to the Clouds input?") == ("clouds",)


def test_two_products_named_keep_both():
    assert DIRECTORY.scope("Is Beads the successor of Clouds?") == ("beads", "clouds")


def test_display_name_is_short_and_names_the_vendor():
    assert DIRECTORY.display_name("gateway") == "Olimex ESP32-GATEWAY"
    assert DIRECTORY.display_name("v4") == "PiKVM V4 Mini & Plus KVM-over-IP quickstart guide"


def test_a_name_inside_a_compound_word_counts():
    assert DIRECTORY.scope("Does the OLIMEX-ESP32-GATEWAY boot from SD?") == ("gateway",)


def test_a_feature_in_a_product_descriptions_parenthesis_names_nothing():
    assert DIRECTORY.scope("How do I power the ESP32-GATEWAY over PoE?") == ("gateway",)
