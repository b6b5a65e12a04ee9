"""A page's main content written as Markdown straight from its HTML elements.

The HTML extractor uses this where trafilatura's main-content extraction loses a page's
headings (see `manualqa.extraction.html`), and the Markdown splitter for the HTML blocks
a Markdown manual holds (a `<table>` whose cells would otherwise run together). A page's
content is its `<main>`, else its only `<article>`, else its `<body>`, less what is not
manual text: scripts, styles, forms, the page's own header (all but its headings: the
manual's title) and footer (those outside any `<main>`, `<article>` or `<section>`: a
section's `<header>` holds its heading) and sidebars made mostly of links (a table of
contents). Navigation is already gone (`html._prepared`).

Headings become `#` lines, lists `-` or `1.` items, tables `| cell |` rows with a rule
under a header row of `<th>` cells, `<pre>` a fenced block, bold text `**bold**` (a
paragraph opening with a bold line titles a sub-section, as in any Markdown manual).
"""

from __future__ import annotations

from collections.abc import Iterator

import lxml.html

from manualqa.extraction import collapse_spaces

__all__ = ["fragment_markdown", "pair_definitions", "render_markdown"]

_DROPPED = frozenset(
    "script style noscript template svg form button select input textarea iframe canvas "
    "object embed map".split()
)
_PAGE_FRAME = frozenset({"header", "footer"})
_CONTENT = frozenset({"main", "article", "section"})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_LISTS = frozenset({"ul", "ol"})
_BLOCKS = frozenset(
    "p div section article main aside blockquote figure figcaption details summary "
    "ul ol li table pre hr dl dt dd address center".split()
) | frozenset(_HEADINGS)
_BOLD = frozenset({"strong", "b"})
LINKED_SIDEBAR = 0.5  # an <aside> with more than this share of its text in links is navigation


def render_markdown(root: lxml.html.HtmlElement) -> str:
    """The main content of the page `root` as Markdown."""
    return _as_markdown(_container(root))


def fragment_markdown(fragment: str) -> str:
    """A piece of HTML (a table or a list written inside a Markdown manual) as Markdown."""
    container = lxml.html.fragment_fromstring(fragment, create_parent="div")
    pair_definitions(container)
    return _as_markdown(container)


def pair_definitions(root: lxml.html.HtmlElement) -> None:
    """Make each definition list (<dl>) a list of "term: description" items.

    trafilatura renders a term and its description as two unrelated list items, so an
    error code ("E4") lost the meaning and the remedy that follow it."""
    for dl in list(root.iter("dl")):
        items = lxml.html.Element("ul")
        terms: list[str] = []  # the <dt>s the next <dd> describes
        described = False  # ... and whether one already did (a new <dt> starts a group)
        for child in dl.iter("dt", "dd"):  # HTML allows a <div> around each pair
            text = " ".join(child.text_content().split())
            if child.tag == "dt":
                if described:
                    terms, described = [], False
                terms.append(text)
            elif child.tag == "dd" and text:
                item = lxml.html.Element("li")
                item.text = f"{', '.join(terms)}: {text}" if terms else text
                items.append(item)
                described = True
        parent = dl.getparent()
        if parent is not None:
            parent.replace(dl, items)


def _as_markdown(container: lxml.html.HtmlElement) -> str:
    _drop_frame(container)
    return "\n\n".join(block for block in _blocks(container) if block.strip())


def _container(root: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    main = root.xpath("//main")
    if main:
        return main[0]
    articles = root.xpath("//article")
    if len(articles) == 1:
        return articles[0]
    body = root.xpath("//body")
    return body[0] if body else root


def _drop_frame(container: lxml.html.HtmlElement) -> None:
    doomed = [
        element
        for element in container.iter()
        if isinstance(element.tag, str)  # not a comment or a processing instruction
        and (
            element.tag in _DROPPED
            or (element.tag in _PAGE_FRAME and not _inside_content(element))
            or (element.tag == "aside" and _link_share(element) > LINKED_SIDEBAR)
        )
    ]
    for element in doomed:
        if element is container or element.getparent() is None:
            continue
        if element.tag == "header":  # the page's title stays, its menus and logos go
            for heading in element.xpath(".//h1 | .//h2 | .//h3 | .//h4 | .//h5 | .//h6"):
                heading.tail = None
                element.addprevious(heading)
        element.drop_tree()


def _inside_content(element: lxml.html.HtmlElement) -> bool:
    return any(a.tag in _CONTENT for a in element.iterancestors())


def _link_share(element: lxml.html.HtmlElement) -> float:
    text = len("".join(element.itertext()).split())
    linked = sum(len("".join(a.itertext()).split()) for a in element.iter("a"))
    return linked / text if text else 1.0


def _blocks(element: lxml.html.HtmlElement) -> Iterator[str]:
    tag = element.tag
    if tag in _HEADINGS:
        title = collapse_spaces(_inline(element).replace("**", ""))
        if title:
            yield f"{'#' * _HEADINGS[tag]} {title}"
    elif tag in _LISTS:
        yield "\n".join(_list_lines(element, 0))
    elif tag == "table":
        yield "\n".join(_table_lines(element))
    elif tag == "pre":
        yield f"```\n{element.text_content().strip(chr(10))}\n```"
    elif not any(isinstance(d.tag, str) and d.tag in _BLOCKS for d in element.iterdescendants()):
        yield _paragraph(_inline(element))
    else:
        yield _paragraph(element.text or "")
        for child in element:
            if isinstance(child.tag, str):
                yield from _blocks(child) if child.tag in _BLOCKS else [_paragraph(_inline(child))]
            yield _paragraph(child.tail or "")


def _paragraph(text: str) -> str:
    lines = (collapse_spaces(line) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _inline(element: lxml.html.HtmlElement) -> str:
    """The text of an element with no blocks inside: bold marked, line breaks kept."""
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str):
            if child.tag == "br":
                parts.append("\n")
            else:
                inner = _inline(child)
                if child.tag in _BOLD and inner.strip():
                    inner = f" **{collapse_spaces(inner)}** "
                parts.append(inner)
        parts.append(child.tail or "")
    return "".join(parts)


def _list_lines(element: lxml.html.HtmlElement, depth: int) -> Iterator[str]:
    ordered = element.tag == "ol"
    start = int(element.get("start", "1")) if element.get("start", "1").isdigit() else 1
    number = start
    for item in element:
        if item.tag != "li":
            continue
        nested = [c for c in item if isinstance(c.tag, str) and c.tag in _LISTS]
        text = collapse_spaces(" ".join(_item_parts(item)))
        marker = f"{number}." if ordered else "-"
        if text:
            yield f"{'  ' * depth}{marker} {text}"
            number += 1
        for sub in nested:
            yield from _list_lines(sub, depth + 1)


def _item_parts(item: lxml.html.HtmlElement) -> Iterator[str]:
    """The text of a list item, its nested lists left out."""
    yield item.text or ""
    for child in item:
        if isinstance(child.tag, str) and child.tag not in _LISTS:
            yield _inline(child) if child.tag != "br" else " "
        yield child.tail or ""


def _table_lines(table: lxml.html.HtmlElement) -> Iterator[str]:
    for index, row in enumerate(table.iter("tr")):
        cells = [c for c in row if c.tag in ("td", "th")]
        if not cells:
            continue
        texts = [collapse_spaces(_inline(c).replace("**", "")).replace("|", "/") for c in cells]
        yield f"| {' | '.join(texts)} |"
        if index == 0 and all(c.tag == "th" for c in cells):
            yield "|" + "---|" * len(cells)
