"""The incident runbooks (``docs/runbooks.md``) as one HTML page, where the alerts' runbook links open.

Read and rendered once at start from ``responder.runbooks`` (markdown-it-py, CommonMark with tables; raw HTML
in the Markdown is escaped, never passed through). Every heading gets the anchor GitHub would give it, so
``<public URL>/runbooks#ghostposition`` opens the GhostPosition section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt
from markupsafe import escape

from common.config import ConfigError

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Incident runbooks</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:auto;padding:0 1rem;line-height:1.45}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px}}
pre{{background:#f4f4f4;padding:6px;overflow-x:auto}}code{{background:#f4f4f4}}
h1,h2,h3,h4{{scroll-margin-top:1rem}}:target{{background:#fff4c2}}</style></head>
<body><p><small>{source}</small></p>
{body}
</body></html>
"""


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@dataclass(frozen=True)
class Runbooks:
    html: str
    anchors: frozenset[str]


def render_runbooks(markdown: str, source: str) -> Runbooks:
    """The page and its anchors; a heading seen again gets ``-1``, ``-2``... as on GitHub."""
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = parser.parse(markdown)
    seen: dict[str, int] = {}
    anchors: set[str] = set()
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            anchor = github_anchor(tokens[index + 1].content)
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            unique = anchor if count == 0 else f"{anchor}-{count}"
            token.attrSet("id", unique)
            anchors.add(unique)
    body = parser.renderer.render(tokens, parser.options, {})
    return Runbooks(PAGE.format(source=escape(source), body=body), frozenset(anchors))


def load_runbooks(path: Path) -> Runbooks:
    """Read and render the runbooks file; ConfigError naming ``responder.runbooks`` when it cannot be read."""
    try:
        markdown = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise ConfigError(f"responder.runbooks: cannot read {path}: {reason} (the runbooks served at GET /runbooks; "
                          "null serves none)") from None
    return render_runbooks(markdown, path.name)
