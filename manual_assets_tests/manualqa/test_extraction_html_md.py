"""HTML and Markdown extraction: main content only, sections from headings, light clean-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from manual_assets_tests.manualqa.conftest import make_ref
from manualqa.answer.units import split_units
from manualqa.documents import ExtractedManual
from manualqa.extraction import ExtractionError, extract_manual

PAGE = """<!doctype html>
<html><head><title>AC-200 Owner's Manual</title></head>
<body>
<nav><ul>
  <li><a href="/">Home</a></li><li><a href="/products">Products catalogue</a></li>
  <li><a href="/support">Support portal</a></li>
</ul></nav>
<header><div class="logo">Acme Corp</div><p>Free shipping on orders over 50 EUR</p></header>
<main><article>
<h1>AC-200 Owner's Manual</h1>
<p>Thank you for buying the Acme AC-200 air conditioner. Read this manual before first use
and keep it for future reference.</p>
<h2>1 Safety</h2>
<p>Never operate the unit with a damaged <a href="/cord">power cord</a>. Keep children away
from the outlet grille at all times.</p>
<h2>2 Installation</h2>
<h3>2.1 Mounting the bracket</h3>
<p>Fix the wall bracket with the four supplied screws. The bracket must be level within two
degrees.</p>
<ol><li>Mark the holes using the paper template.</li><li>Drill four 6 mm holes.</li>
<li>Insert the plugs and fix the bracket.</li></ol>
<h3>2.2 Power supply</h3>
<p>The unit requires a dedicated 230 V, 16 A circuit with an earth connection.</p>
<table><tr><th>Model</th><th>Rated current</th></tr><tr><td>AC-200</td><td>9 A</td></tr>
<tr><td>AC-250</td><td>11 A</td></tr></table>
</article></main>
<footer><p>Copyright 2024 Acme Corp. All rights reserved.</p>
<p><a href="/privacy">Privacy policy</a> | <a href="/terms">Terms of use</a></p></footer>
</body></html>"""

MARKDOWN = """---
title: Acme D-10 dehumidifier guide
description: Front matter must not reach the text
---

Intro text before the first heading.

# Getting started

Unpack the unit. ![Front view](img/front.png){ width="450" } See the [online help](https://acme.example/help).

<!-- editor note: do not publish -->

## Controls

| Button | Action |
|--------|--------|
| POWER  | Turns the unit on or off |
| MODE   | Cycles through the modes |

```bash
# not a heading: a shell comment
d10ctl --status
```

### Advanced \\*settings\\*

1. Hold **MODE** for three seconds.
2. Turn the dial to set the humidity.

## Maintenance

- Empty the tank daily.
- Clean the filter monthly.
"""


def _extract(data: bytes, name: str, title: str = "Fallback title") -> ExtractedManual:
    return extract_manual(data, make_ref(name, title=title))


def test_html_keeps_main_content_and_headings_without_boilerplate() -> None:
    doc = _extract(PAGE.encode("utf-8"), "ac200.html")
    text = "\n".join(b.text for b in doc.blocks)

    assert doc.media_type == "text/html"
    assert doc.page_count is None
    assert doc.title == "AC-200 Owner's Manual"
    for boilerplate in (
        "Products catalogue",
        "Support portal",
        "Free shipping",
        "Privacy policy",
        "All rights reserved",
    ):
        assert boilerplate not in text
    root = "AC-200 Owner's Manual"
    assert [s.path for s in doc.sections] == [
        (root,),
        (root, "1 Safety"),
        (root, "2 Installation"),
        (root, "2 Installation", "2.1 Mounting the bracket"),
        (root, "2 Installation", "2.2 Power supply"),
    ]
    assert [s.level for s in doc.sections] == [1, 2, 2, 3, 3]
    by_section = {b.section: b for b in doc.blocks}
    assert "damaged power cord" in by_section["1 Safety"].text
    assert "Drill four 6 mm holes." in by_section["2.1 Mounting the bracket"].text
    power = by_section["2.2 Power supply"].text
    assert "AC-250" in power and "11 A" in power
    assert all(b.page is None and b.page_label is None for b in doc.blocks)


# A manual page with no content container: headings, a paragraph and a procedure straight
# in <body>. trafilatura's precision mode dropped every <h2> and the whole <ol> of this page.
BARE_PAGE = """<html><head><title>D18 Drill Guide</title></head><body>
<h1>D18 Drill Guide</h1>
<p>User guide, version 1.3. Read all instructions before use.</p>
<h2>Charging</h2>
<p>A 2.0 Ah pack charges fully in 45 minutes on the supplied charger; a 4.0 Ah pack takes
80 minutes. The charger LED blinks green while charging and stays green when the pack is full.</p>
<h2>Changing the bit</h2>
<ol>
<li>Set the direction switch to the middle position to lock the trigger.</li>
<li>Turn the chuck sleeve anticlockwise to open the jaws.</li>
<li>Insert the bit and turn the sleeve clockwise until it clicks.</li>
</ol>
<h2>Maintenance</h2>
<p>Blow the dust out of the motor vents after each use. Do not use solvents on the housing.</p>
</body></html>"""


def test_html_without_a_content_container_keeps_headings_and_procedures() -> None:
    doc = _extract(BARE_PAGE.encode("utf-8"), "d18.html")
    by_section = {b.section: b.text for b in doc.blocks}

    assert {"Charging", "Changing the bit", "Maintenance"} <= set(by_section)
    steps = by_section["Changing the bit"]
    assert "1. Set the direction switch" in steps
    assert "3. Insert the bit" in steps


def test_html_definition_lists_keep_each_term_with_its_description() -> None:
    page = (
        "<html><head><title>Z9 Help</title></head><body><main><h1>Z9 Blender Help</h1>"
        "<p>Troubleshooting for the Z9 blender: read it all before you call support.</p>"
        "<h2>Error codes</h2><dl>"
        "<dt>E1</dt><dd>The jar is not locked. Turn it <b>clockwise</b> until it clicks.</dd>"
        "<dt>E4</dt><dt>E5</dt><dd>The motor overheated.</dd><dd>Let it cool for 20 min.</dd>"
        "</dl></main></body></html>"
    )
    doc = _extract(page.encode("utf-8"), "z9.html")
    codes = {b.section: b.text for b in doc.blocks}["Error codes"]
    assert "E1: The jar is not locked. Turn it clockwise until it clicks." in codes
    assert "E4, E5: The motor overheated." in codes
    assert "E4, E5: Let it cool for 20 min." in codes


# Sections as <section> elements after a <nav> table of contents: trafilatura kept not one
# heading of this page, with or without the <nav> (it kept them all once a <footer> was
# added), so the page is written from its elements.
SECTIONED_PAGE = (
    "<html><head><title>R5 Robot Vacuum Manual</title></head><body>"
    "<header><h1>R5 Robot Vacuum Manual</h1></header><nav><h2>Contents</h2><ul>"
    '<li><a href="#safety">Safety</a></li><li><a href="#setup">Getting started</a></li>'
    '<li><a href="#care">Care</a></li><li><a href="#specs">Specifications</a></li></ul></nav>'
    '<section id="safety"><h2>Safety</h2><p>Use only the supplied charging dock. Keep the '
    "robot away from water, stairs and loose cords at all times.</p></section>"
    '<section id="setup"><h2>Getting started</h2><ol><li>Place the dock against a wall with '
    "free space on each side.</li><li>Put the robot on the dock until it is fully charged."
    '</li></ol></section><section id="care"><h2>Care and maintenance</h2><p>Clean the main '
    "brush once a week and replace the side brushes every three months.</p></section>"
    '<section id="specs"><h2>Specifications</h2><table><tr><th>Item</th><th>Value</th></tr>'
    "<tr><td>Dustbin</td><td>450 ml</td></tr><tr><td>Battery</td><td>5200 mAh</td></tr>"
    "</table></section></body></html>"
)


def test_html_whose_headings_trafilatura_drops_is_written_from_its_elements() -> None:
    doc = _extract(SECTIONED_PAGE.encode("utf-8"), "r5.html")
    root = "R5 Robot Vacuum Manual"
    assert [s.path for s in doc.sections][1:] == [
        (root, "Safety"),
        (root, "Getting started"),
        (root, "Care and maintenance"),
        (root, "Specifications"),
    ]
    by_section = {b.section: b.text for b in doc.blocks}
    assert "loose cords at all times" in by_section["Safety"]
    setup = by_section["Getting started"]
    assert "1. Place the dock" in setup and "2. Put the robot on the dock" in setup
    assert "| Item | Value |\n|---|---|\n| Dustbin | 450 ml |" in by_section["Specifications"]
    text = "\n".join(b.text for b in doc.blocks)
    assert "Contents" not in text


def test_html_headings_lose_their_permalinks() -> None:
    page = PAGE.replace(
        "<h2>1 Safety</h2>", '<h2>1 Safety<a class="headerlink" href="#safety">¶</a></h2>'
    ).replace("<h2>2 Installation</h2>", '<h2><a href="#install">#</a> 2 Installation</h2>')
    doc = _extract(page.encode("utf-8"), "ac200.html")
    assert [s.title for s in doc.sections[1:3]] == ["1 Safety", "2 Installation"]


def test_html_bytes_without_a_declared_charset_are_decoded_as_utf8() -> None:
    page = PAGE.replace("two\ndegrees.", "two degrees, between 5 °C and 35 °C.")
    doc = _extract(page.encode("utf-8"), "ac200.html")
    assert "between 5 °C and 35 °C" in "\n".join(b.text for b in doc.blocks)


def test_html_with_only_boilerplate_is_refused() -> None:
    page = "<html><body><nav><a href='/'>Home</a></nav><footer>(c) Acme</footer></body></html>"
    with pytest.raises(ExtractionError, match="no main content"):
        _extract(page.encode(), "empty.html")


def test_markdown_sections_follow_atx_headings_outside_code() -> None:
    doc = _extract(MARKDOWN.encode("utf-8"), "d10.md")
    title = "Acme D-10 dehumidifier guide"

    assert doc.title == title
    assert doc.media_type == "text/markdown"
    assert [(s.path, s.level) for s in doc.sections] == [
        ((title,), 1),
        (("Getting started",), 1),
        (("Getting started", "Controls"), 2),
        (("Getting started", "Controls", "Advanced *settings*"), 3),
        (("Getting started", "Maintenance"), 2),
    ]
    assert [b.section_path for b in doc.blocks] == [s.path for s in doc.sections]
    blocks = {b.section: b.text for b in doc.blocks}
    assert blocks[title] == "Intro text before the first heading."
    assert blocks["Getting started"] == "Getting started\n\nUnpack the unit. See the online help."
    controls = blocks["Controls"]
    assert "| POWER | Turns the unit on or off |" in controls
    assert "|----" not in controls
    assert "# not a heading: a shell comment\nd10ctl --status" in controls
    assert "```" not in controls
    assert "1. Hold MODE for three seconds." in blocks["Advanced *settings*"]


def test_markdown_setext_headings_open_sections_and_a_rule_after_a_blank_line_does_not():
    text = (
        "Kettle K2 Guide\n===============\n\nRead this first.\n\n"
        "Descaling\n---------\n\nBoil vinegar and water, then rinse twice.\n\n"
        "- Never descale a hot kettle.\n---\n\n***\n\nWarranty\n--------\n\nTwo years.\n"
    )
    doc = _extract(text.encode("utf-8"), "k2.md")
    assert [s.path for s in doc.sections] == [
        ("Kettle K2 Guide",),
        ("Kettle K2 Guide", "Descaling"),
        ("Kettle K2 Guide", "Warranty"),
    ]
    blocks = {b.section: b.text for b in doc.blocks}
    assert blocks["Descaling"].endswith("rinse twice.\n\n- Never descale a hot kettle.")
    assert "===" not in "".join(blocks.values()) and "---" not in "".join(blocks.values())


def test_a_paragraph_opening_with_a_bold_line_is_a_section_titled_by_it() -> None:
    text = (
        "# Guide\n\n## Troubleshooting\n\nTry these first.\n\n"
        "**A note keeps sounding after I release the pad.**\n"
        "Press SHIFT + Pad 1 to send MIDI panic.\n\n"
        "**The pads stay dark.**\nUse a powered hub.\n\n"
        "Some text with **bold words** inside.\n\n## Care\n\nKeep it dry.\n"
    )
    doc = _extract(text.encode("utf-8"), "pad.md")
    assert [s.path[1:] for s in doc.sections] == [
        (),
        ("Troubleshooting",),
        ("Troubleshooting", "A note keeps sounding after I release the pad."),
        ("Troubleshooting", "The pads stay dark."),  # beside the first, not below it
        ("Care",),
    ]
    blocks = {b.section: b.text for b in doc.blocks}
    assert blocks["A note keeps sounding after I release the pad."].endswith("send MIDI panic.")
    assert blocks["The pads stay dark."].endswith("Some text with bold words inside.")


def test_a_fence_indented_inside_a_list_item_is_dropped_and_its_code_kept() -> None:
    text = (
        "# Setup\n\n1. Change the root password:\n\n    ```console\n"
        "    [root@kvm ~]# passwd root\n    ```\n\n2. Reboot.\n"
    )
    doc = _extract(text.encode("utf-8"), "kvm.md")
    setup = doc.blocks[-1].text
    assert "```" not in setup and "console" not in setup
    assert "[root@kvm ~]# passwd root" in setup


def test_html_blocks_in_markdown_keep_their_cells_and_items_apart() -> None:
    text = (
        "# C7 e-bike\n\n## Specifications\n\n<table>\n  <thead>\n"
        "    <tr><th>Item</th><th>Specification</th></tr>\n  </thead>\n  <tbody>\n"
        "    <tr><td>Weight</td><td>22.4 kg</td></tr>\n\n"  # a blank line inside the table
        "    <tr><td>Tyre pressure</td><td>3.5 to 4.5 bar</td></tr>\n  </tbody>\n</table>\n\n"
        "<ul><li>Charge before the first ride.</li><li>Use only the supplied charger.</li></ul>\n\n"
        "<dl><dt>Error 41</dt><dd>Battery too cold: let it warm up.</dd></dl>\n\n"
        "```html\n<table><tr><td>kept</td><td>verbatim</td></tr></table>\n```\n"
    )
    doc = _extract(text.encode("utf-8"), "c7.md")
    specs = {b.section: b.text for b in doc.blocks}["Specifications"]
    assert "| Weight | 22.4 kg |\n| Tyre pressure | 3.5 to 4.5 bar |" in specs
    assert "- Charge before the first ride.\n- Use only the supplied charger." in specs
    assert "- Error 41: Battery too cold: let it warm up." in specs
    assert "<table><tr><td>kept</td><td>verbatim</td></tr></table>" in specs


def test_a_markdown_table_keeps_its_header_rule_so_rows_are_read_with_their_columns() -> None:
    text = (
        "# NV-5 monitor\n\n## Specifications\n\n"
        "| Item | Camera unit (NV-5C) | Parent unit (NV-5P) |\n"
        "|------|:---:|-----|\n| Weight | 160 g | - |\n\n"
        "Zones | Value\n--- | ---\nZones | 6\n\nAfter the table | a pipe in prose.\n"
    )
    doc = _extract(text.encode("utf-8"), "nv5.md")
    specs = {b.section: b.text for b in doc.blocks}["Specifications"]
    assert (
        "| Item | Camera unit (NV-5C) | Parent unit (NV-5P) |\n|---|---|---|\n"
        "| Weight | 160 g | - |" in specs
    )
    assert "| Zones | Value |\n|---|---|\n| Zones | 6 |" in specs  # outer pipes added
    assert "\nAfter the table | a pipe in prose." in specs  # the table ended at the blank line
    rows = [u.text for u in split_units(specs) if u.kind == "row"]
    assert "Item: Weight; Camera unit (NV-5C): 160 g; Parent unit (NV-5P): -" in rows
    assert "Zones: Zones; Value: 6" in rows


def test_markdown_resumes_after_an_html_block_left_open() -> None:
    # GitHub-style centring: an opening <div>, Markdown, then the closing tag.
    text = '# X1 guide\n\n<div align="center">\n\n## Setup\n\n1. Plug it in.\n\n</div>\n'
    doc = _extract(text.encode("utf-8"), "x1.md")
    assert "1. Plug it in." in {b.section: b.text for b in doc.blocks}["Setup"]


def test_markdown_cleanup_drops_front_matter_comments_images_and_link_targets() -> None:
    doc = _extract(MARKDOWN.encode("utf-8"), "d10.md")
    text = "\n".join(b.text for b in doc.blocks)

    for dropped in ("description:", "editor note", "img/front.png", "width=", "https://", "]("):
        assert dropped not in text
    assert all(b.page is None for b in doc.blocks)


def test_markdown_without_front_matter_title_uses_the_ref_title() -> None:
    doc = _extract(b"## Only section\n\nSome text here.", "plain.md", title="Plain guide")
    assert doc.title == "Plain guide"
    assert [b.section_path for b in doc.blocks] == [("Only section",)]


def test_markdown_errors_say_what_is_wrong() -> None:
    with pytest.raises(ExtractionError, match="holds no text"):
        _extract(b"---\ntitle: x\n---\n\n<!-- nothing -->\n\n![](a.png)\n", "blank.md")
    with pytest.raises(ExtractionError, match="binary data"):
        _extract(b"\x00\x01\x02PK\x03\x04", "binary.md")


def test_markdown_in_windows_1252_is_decoded() -> None:
    doc = _extract("# Caf\u00e9 mode\n\nSet the temperature to 20\u00b0C.".encode("cp1252"), "c.md")
    assert doc.blocks[0].text == "Caf\u00e9 mode\n\nSet the temperature to 20\u00b0C."


def test_corpus_markdown_manuals(corpus_dir: Path) -> None:
    names = sorted(p.name for p in corpus_dir.glob("*.md") if p.name != "README.md")
    assert len(names) == 5
    docs = {name: _extract((corpus_dir / name).read_bytes(), name, title=name) for name in names}

    for name, doc in docs.items():
        assert doc.blocks, name
        assert all(b.section_path for b in doc.blocks), name
        text = "\n".join(b.text for b in doc.blocks)
        assert "](" not in text and "<!--" not in text, name

    pikvm = docs["pikvm_v4_quickstart.md"]
    root = "PiKVM V4 Mini & Plus quickstart guide"
    assert pikvm.title == root  # from the front matter
    paths = {s.path for s in pikvm.sections}
    assert (root, "Connect and set up", "Access PiKVM") in paths
    assert not any("title:" in b.text for b in pikvm.blocks)

    braids = docs["mutable-instruments_braids_manual.md"]
    assert ("Models", "CSAW") in {s.path for s in braids.sections}
    # The note before the first heading belongs to the document's own section.
    assert braids.blocks[0].section_path == (braids.title,)
    assert "firmware" in braids.blocks[0].text
