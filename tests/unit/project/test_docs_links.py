"""Every relative link and ``#anchor`` in the repository's Markdown points at something that exists.

The documentation is split over README.md, CHANGELOG.md, docs/ and a few package READMEs that link to each other;
a page renamed or a heading reworded silently breaks those links. This test parses every Markdown file git tracks
and fails on a relative link whose target file is missing (or not tracked, so a fresh clone would not have it, or
outside the repository) and on a ``#fragment`` that names no heading (nor HTML ``id``/``name``) of its target
Markdown file. Anchors follow GitHub's rule: the heading's text, lower-cased, punctuation dropped, spaces to ``-``,
``-1``, ``-2`` … for repeats. Links inside code (fenced blocks, inline spans) are text, not links, and are skipped;
absolute URLs (``https:``, ``mailto:`` …) are not checked (no network in tests).
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[3]

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# [text](dest "title") and ![alt](dest); the text may hold one level of brackets and span lines.
_INLINE = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)"
)
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*(<[^>\n]*>|\S+)", re.MULTILINE)
_HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*[\"']([^\"']*)[\"']", re.IGNORECASE)
_HTML_ID = re.compile(r"<[a-z][^>]*?\b(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def tracked_markdown(root: Path) -> tuple[list[Path], set[Path] | None]:
    """The Markdown files git tracks under ``root`` and every tracked path (None when ``root`` is no git work
    tree: then every Markdown file on disk outside hidden and generated folders, and existence is the check)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True, text=True
        ).stdout.split("\0")
    except (OSError, subprocess.CalledProcessError):
        skip = {"out", "run", "build", "node_modules"}
        found = [
            p
            for p in sorted(root.rglob("*.md"))
            if not any(part.startswith(".") or part in skip for part in p.relative_to(root).parts[:-1])
        ]
        return found, None
    tracked = {(root / name).resolve() for name in listed if name}
    markdown = sorted(p for p in tracked if p.suffix.lower() == ".md" and p.is_file())
    return markdown, tracked


def _blank_fences(text: str) -> str:
    """The text with every fenced code block's lines (fences included) emptied, line numbers kept."""
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        opener = _FENCE.match(line)
        if fence is None:
            if opener:
                fence = opener.group(1)
                out.append("")
            else:
                out.append(line)
        else:
            closes = opener is not None and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence)
            if closes and not line.strip().strip(fence[0]).strip():  # a closing fence carries no info string
                fence = None
            out.append("")
    return "\n".join(out)


def _blank(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match.group(0))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's Markdown source text (before de-duplication)."""
    text = _CODE_SPAN.sub(lambda m: m.group(2).strip(), heading)
    text = re.sub(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\([^)]*\)", r"\1", text)  # a link or image -> its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    text = re.sub(r"(?<![^\W_])[*_]+|[*_]+(?![^\W_])", "", text)  # emphasis markers at word edges
    kept = "".join(ch for ch in text.lower() if ch.isalnum() or ch in " -_" or unicodedata.category(ch).startswith("M"))
    return kept.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every fragment a Markdown file answers to: its headings' GitHub slugs and its HTML ids and names."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    prose = _blank_fences(_COMMENT.sub(_blank, text))
    lines = prose.split("\n")
    for i, line in enumerate(lines):
        heading: str | None = None
        atx = _ATX.match(line)
        if atx:
            heading = atx.group(2) or ""
        elif (
            i > 0
            and _SETEXT.match(line)
            and lines[i - 1].strip()
            and not _ATX.match(lines[i - 1])
            and "|" not in lines[i - 1]
        ):
            heading = lines[i - 1].strip()
        if heading is None:
            continue
        base = slug(heading.strip())
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    found.update(_HTML_ID.findall(_CODE_SPAN.sub(_blank, prose)))
    return found


def links(text: str) -> list[tuple[int, str]]:
    """(line number, destination) of every link and image in the Markdown, code excluded."""
    prose = _CODE_SPAN.sub(_blank, _blank_fences(_COMMENT.sub(_blank, text)))
    found: list[tuple[int, str]] = []
    for pattern in (_INLINE, _REFERENCE, _HTML_LINK):
        for match in pattern.finditer(prose):
            dest = match.group(1)
            if dest.startswith("<") and dest.endswith(">"):
                dest = dest[1:-1]
            found.append((prose.count("\n", 0, match.start(1)) + 1, dest))
    return sorted(found)


def check(files: Iterable[Path], root: Path, tracked: set[Path] | None) -> list[str]:
    """One line per broken relative link or anchor: ``path:line: link 'dest': why``."""
    root = root.resolve()
    problems: list[str] = []
    anchor_cache: dict[Path, set[str]] = {}

    def anchors_of(path: Path) -> set[str]:
        if path not in anchor_cache:
            anchor_cache[path] = anchors(path.read_text(encoding="utf-8"))
        return anchor_cache[path]

    for given in files:
        source = given.resolve()
        where = source.relative_to(root)
        for line, dest in links(source.read_text(encoding="utf-8")):
            if _SCHEME.match(dest) or dest.startswith("//"):
                continue  # an absolute URL: not a file of this repository
            path_part, _, fragment = dest.partition("#")
            path_part = unquote(path_part.partition("?")[0])
            fragment = unquote(fragment)
            if not path_part:
                target = source
            elif path_part.startswith("/"):
                target = (root / path_part.lstrip("/")).resolve()  # GitHub: relative to the repository root
            else:
                target = (source.parent / path_part).resolve()
            say = f"{where}:{line}: link {dest!r}:"
            if not target.is_relative_to(root):
                problems.append(f"{say} points outside the repository ({target})")
                continue
            if not target.exists():
                problems.append(f"{say} {target.relative_to(root)} does not exist")
                continue
            if tracked is not None and target not in tracked and not any(p.is_relative_to(target) for p in tracked):
                problems.append(f"{say} {target.relative_to(root)} is not tracked by git (a clone would not have it)")
                continue
            is_markdown = target.is_file() and target.suffix.lower() == ".md"
            if fragment and is_markdown and fragment not in anchors_of(target):
                problems.append(f"{say} no heading or id {fragment!r} in {target.relative_to(root)}")
    return problems


def test_every_relative_link_and_anchor_in_the_repository_resolves() -> None:
    files, tracked = tracked_markdown(ROOT)
    names = {p.relative_to(ROOT).as_posix() for p in files}
    # The check must have something to check: the front door, the history and the concept pages.
    assert {"README.md", "CHANGELOG.md", "docs/architecture.md", "botrunner/data/README.md"} <= names, names
    problems = check(files, ROOT, tracked)
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_the_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    for command in ("make run", "make test", "make lint", "make bench", "make demo"):
        assert command in readme, command
    assert (ROOT / "docs").is_dir()


def _write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_missing_file_and_a_missing_heading_are_reported_with_their_lines(tmp_path: Path) -> None:
    readme = _write(
        tmp_path,
        "README.md",
        "# Top\n\nSee [the guide](docs/guide.md) and [its part](docs/guide.md#the-parts-rules).\n"
        "Broken: [gone](docs/gone.md), [no such part](docs/guide.md#nowhere),\n"
        "[no such local part](#bottom), [up](#top), [image](docs/pic.png).\n",
    )
    guide = _write(tmp_path, "docs/guide.md", "# Guide\n\n## The part's rules\n\nBack [home](../README.md#top).\n")
    assert check([readme, guide], tmp_path, None) == [
        "README.md:4: link 'docs/gone.md': docs/gone.md does not exist",
        "README.md:4: link 'docs/guide.md#nowhere': no heading or id 'nowhere' in docs/guide.md",
        "README.md:5: link '#bottom': no heading or id 'bottom' in README.md",
        "README.md:5: link 'docs/pic.png': docs/pic.png does not exist",
    ]


def test_links_outside_the_repository_or_untracked_are_reported(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _write(tmp_path, "outside.md", "# Outside\n")
    scratch = _write(repo, "scratch.md", "# Scratch\n")
    page = _write(repo, "page.md", "[out](../outside.md) [scratch](scratch.md) [self](page.md)\n")
    assert check([page], repo, {page.resolve()}) == [
        f"page.md:1: link '../outside.md': points outside the repository ({(tmp_path / 'outside.md').resolve()})",
        "page.md:1: link 'scratch.md': scratch.md is not tracked by git (a clone would not have it)",
    ]
    assert check([page], repo, {page.resolve(), scratch.resolve()}) == [
        f"page.md:1: link '../outside.md': points outside the repository ({(tmp_path / 'outside.md').resolve()})",
    ]


def test_code_urls_comments_and_reference_links(tmp_path: Path) -> None:
    page = _write(
        tmp_path,
        "page.md",
        "# Page\n\n```sh\ncat [x](missing-in-fence.md)\n```\n\n"
        "`[y](missing-in-span.md)` <!-- [z](missing-in-comment.md) -->\n"
        "[web](https://example.com/x.md) [mail](mailto:a@b.c) [spaced](<a file.md>)\n\n"
        "[ref]: missing-by-reference.md\n"
        '<a href="missing-by-html.md">html</a>\n',
    )
    assert check([page], tmp_path, None) == [
        "page.md:8: link 'a file.md': a file.md does not exist",
        "page.md:10: link 'missing-by-reference.md': missing-by-reference.md does not exist",
        "page.md:11: link 'missing-by-html.md': missing-by-html.md does not exist",
    ]
    _write(tmp_path, "a file.md", "x\n")
    _write(tmp_path, "missing-by-reference.md", "x\n")
    _write(tmp_path, "missing-by-html.md", "x\n")
    assert check([page], tmp_path, None) == []


def test_anchors_follow_githubs_slugs() -> None:
    assert slug("What `make run` shows") == "what-make-run-shows"
    assert slug("The runtime: `botrunner run` and `botrunner ctl`") == "the-runtime-botrunner-run-and-botrunner-ctl"
    assert slug("Where R1's time goes") == "where-r1s-time-goes"
    assert slug("Live mode on Drift (`mode: live`, `mode: monitor`)") == "live-mode-on-drift-mode-live-mode-monitor"
    assert slug("Before — after") == "before--after"
    assert slug("**Bold** and _em_ in [a link](x.md) with snake_case") == "bold-and-em-in-a-link-with-snake_case"
    text = '# Notes\n\n## Notes\n\nSetext\n------\n\n```\n# not a heading\n```\n<a id="custom"></a>\n'
    assert anchors(text) == {"notes", "notes-1", "setext", "custom"}
