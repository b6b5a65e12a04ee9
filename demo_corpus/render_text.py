"""Render a manual as a vendor-style web page (HTML) or as a Markdown document."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from demo_corpus.corpus import BOLD_RE, Manual, Section, slugify

_CSS = """
body { font-family: system-ui, sans-serif; margin: 0; color: #1d1d1f; line-height: 1.55; }
.site-header { display: flex; gap: 2rem; align-items: center; padding: 0.8rem 2rem;
  background: var(--brand); color: #fff; }
.site-header a { color: #fff; text-decoration: none; }
.logo { font-weight: 700; font-size: 1.2rem; }
.breadcrumb { padding: 0.6rem 2rem; font-size: 0.85rem; background: #f4f5f7; }
.layout { display: grid; grid-template-columns: 16rem 1fr; gap: 2rem; padding: 1.5rem 2rem; }
.toc { font-size: 0.9rem; position: sticky; top: 1rem; align-self: start; }
.toc ul { list-style: none; padding-left: 0.8rem; }
article { max-width: 48rem; }
table { border-collapse: collapse; margin: 0.8rem 0; }
th { background: var(--brand); color: #fff; text-align: left; }
th, td { padding: 0.35rem 0.6rem; border-bottom: 1px solid #d0d3d8; vertical-align: top; }
.callout { padding: 0.6rem 0.9rem; margin: 0.8rem 0; border-left: 4px solid #2e6da4;
  background: #eef4fa; }
.callout.warning { border-color: #c0392b; background: #fbeceb; }
.callout.caution { border-color: #d68910; background: #fdf3e3; }
.site-footer { padding: 1.5rem 2rem; background: #24272b; color: #c9ccd1; font-size: 0.85rem; }
.site-footer a { color: #c9ccd1; }
.cookie-banner { position: fixed; bottom: 0; left: 0; right: 0; padding: 0.8rem 2rem;
  background: #fff; box-shadow: 0 -2px 8px rgba(0, 0, 0, 0.15); }
""".strip()

_SITE_NAV = ("Products", "Support", "Manuals and downloads", "Where to buy", "Contact")


def _text(text: object) -> str:
    return escape(str(text), quote=False)


def _inline_html(text: object) -> str:
    return BOLD_RE.sub(r"<strong>\1</strong>", _text(text))


def _html_block(block: dict[str, Any]) -> list[str]:
    kind, value = next(iter(block.items()))
    if kind == "p":
        return [f"<p>{_inline_html(value)}</p>"]
    if kind in ("steps", "bullets"):
        tag = "ol" if kind == "steps" else "ul"
        items = [f"  <li>{_inline_html(item)}</li>" for item in value]
        return [f"<{tag}>", *items, f"</{tag}>"]
    if kind == "table":
        head = "".join(f"<th>{_inline_html(cell)}</th>" for cell in value["columns"])
        rows = [
            "    <tr>" + "".join(f"<td>{_inline_html(cell)}</td>" for cell in row) + "</tr>"
            for row in value["rows"]
        ]
        return [
            "<table>",
            f"  <caption>{_inline_html(value['caption'])}</caption>",
            f"  <thead><tr>{head}</tr></thead>",
            "  <tbody>",
            *rows,
            "  </tbody>",
            "</table>",
        ]
    label = kind.capitalize()
    return [f'<div class="callout {kind}"><strong>{label}:</strong> {_inline_html(value)}</div>']


def _html_section(section: Section) -> list[str]:
    tag = f"h{section.level + 2}"
    lines = [f'<section id="{section.anchor}">', f"<{tag}>{_text(section.heading)}</{tag}>"]
    for block in section.blocks:
        lines += _html_block(block)
    for child in section.children:
        lines += _html_section(child)
    return [*lines, "</section>"]


def _html_toc(sections: tuple[Section, ...]) -> list[str]:
    lines = ["<ul>"]
    for section in sections:
        link = f'<a href="#{section.anchor}">{_text(section.heading)}</a>'
        if section.children and section.level == 0:
            lines += [f"  <li>{link}", *_html_toc(section.children), "  </li>"]
        else:
            lines.append(f"  <li>{link}</li>")
    return [*lines, "</ul>"]


def render_html(manual: Manual) -> str:
    """Return ``manual`` as a complete web page with site navigation and footer boilerplate."""
    product_path = f"/support/{slugify(manual.model)}"
    nav = "".join(f'<a href="/{slugify(item)}">{_text(item)}</a>' for item in _SITE_NAV)
    article: list[str] = [
        f"<h1>{_text(manual.title)}</h1>",
        f'<p class="meta">Model {_text(manual.model)} &middot; {_text(manual.edition)}</p>',
        f"<p>{_inline_html(manual.intro)}</p>",
    ]
    for section in manual.sections:
        article += _html_section(section)
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_text(manual.title)} | {_text(manual.vendor)} Support</title>",
        f"<style>\n:root {{ --brand: {manual.brand_color}; }}\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        '<header class="site-header">',
        f'<a class="logo" href="/">{_text(manual.vendor)}</a>',
        f"<nav>{nav}</nav>",
        "</header>",
        '<nav class="breadcrumb" aria-label="Breadcrumb">',
        f'<a href="/support">Support</a> &rsaquo; <a href="{product_path}">'
        f"{_text(manual.product)}</a> &rsaquo; {_text(manual.doc_type)}",
        "</nav>",
        '<div class="layout">',
        '<aside class="toc"><p><strong>On this page</strong></p>',
        *_html_toc(manual.sections),
        "</aside>",
        "<main>",
        "<article>",
        *article,
        "</article>",
        "</main>",
        "</div>",
        '<footer class="site-footer">',
        '<p>Was this page helpful? <a href="#feedback-yes">Yes</a> / <a href="#feedback-no">No</a>'
        "</p>",
        f"<p>&copy; {_text(manual.vendor)}. All rights reserved. "
        '<a href="/privacy">Privacy policy</a> &middot; <a href="/cookies">Cookie settings</a> '
        '&middot; <a href="/contact">Contact us</a></p>',
        "</footer>",
        '<div class="cookie-banner" role="dialog">We use cookies to improve your visit. '
        "<button>Accept all</button> <button>Only necessary</button></div>",
        "</body>",
        "</html>",
    ]
    return "\n".join(lines) + "\n"


def _md_cell(cell: object) -> str:
    return str(cell).replace("|", "\\|")


def _md_block(block: dict[str, Any]) -> list[str]:
    kind, value = next(iter(block.items()))
    if kind == "p":
        return [str(value), ""]
    if kind == "steps":
        return [*(f"{index}. {item}" for index, item in enumerate(value, start=1)), ""]
    if kind == "bullets":
        return [*(f"- {item}" for item in value), ""]
    if kind == "table":
        columns = value["columns"]
        rows = [
            "| " + " | ".join(_md_cell(cell) for cell in row) + " |"
            for row in [columns, ["---"] * len(columns), *value["rows"]]
        ]
        return [f"*{value['caption']}*", "", *rows, ""]
    return [f"> **{kind.capitalize()}:** {value}", ""]


def _md_section(section: Section) -> list[str]:
    lines = ["#" * (section.level + 2) + f" {section.heading}", ""]
    for block in section.blocks:
        lines += _md_block(block)
    for child in section.children:
        lines += _md_section(child)
    return lines


def render_markdown(manual: Manual) -> str:
    """Return ``manual`` as a Markdown document with numbered headings, lists and pipe tables."""
    lines = [
        f"# {manual.title}",
        "",
        f"**Vendor:** {manual.vendor} · **Model:** {manual.model} · **Edition:** {manual.edition}",
        "",
        manual.intro,
        "",
    ]
    for section in manual.sections:
        lines += _md_section(section)
    return "\n".join(lines).rstrip("\n") + "\n"


def write_text(text: str, path: Path) -> None:
    """Write ``text`` as UTF-8 with Unix newlines, so output is identical on every platform."""
    path.write_text(text, encoding="utf-8", newline="\n")
