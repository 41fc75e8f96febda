"""Write the ReaPack index (index.xml) of the REAPER actions for one repository and tag.

    python reaper_scripts/make_index.py --repo https://github.com/OWNER/musicgen-bridge \\
        --ref v0.4.0 [--output reaper_scripts/index.xml]

Every source URL is pinned to ``--ref`` (a tag, or a full 40-character commit hash): a
branch such as ``main`` moves, and ReaPack would then install files of another version
than the one the index names.  The package's ``<description>`` is RTF, as ReaPack shows it
(plain text gives "Could not load RTF document" on macOS): the same ``{\\rtf1 ...}`` shape
reapack-index writes through pandoc.  The version, changelog and about text come from the
``-- @version`` / ``@changelog`` / ``@about`` header of MusicGen_Generate_from_selection.lua.
Standard library only.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

HERE = Path(__file__).resolve().parent
MAIN = "MusicGen_Generate_from_selection.lua"
MOVING = {"main", "master", "head", "develop", "dev", "trunk"}


class Problem(Exception):
    """Something to tell the user, in words."""


def header(text: str) -> dict[str, str]:
    """The ReaPack header tags of a Lua script: {"description": ..., "about": ...}."""
    tags: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        m = re.match(r"--\s*@(\w+)\s*(.*)$", line)
        if m:
            key = m.group(1)
            tags[key] = m.group(2).strip()
        elif key:
            tags[key] = (tags[key] + "\n" + line[2:].strip()).strip("\n")
    return tags


def rtf_text(text: str) -> str:
    """Text for RTF: \\ { } escaped, non-ASCII as \\uN? (signed 16-bit, surrogate pairs)."""
    out = []
    for ch in text:
        if ch in "\\{}":
            out.append("\\" + ch)
        elif ord(ch) < 128:
            out.append(ch)
        else:
            data = ch.encode("utf-16-be")
            for i in range(0, len(data), 2):
                unit = int.from_bytes(data[i : i + 2], "big")
                out.append(f"\\u{unit - 65536 if unit > 32767 else unit}?")
    return "".join(out)


def to_rtf(markdown: str) -> str:
    """A small Markdown subset (# headings, paragraphs, `code`) as the RTF document
    reapack-index makes with pandoc (``{\\rtf1\\ansi\\deff0{\\fonttbl...}...}``)."""
    lines = [
        "{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 \\fswiss Helvetica;}{\\f1 \\fmodern Courier;}}",
        "{\\colortbl;\\red255\\green0\\blue0;\\red0\\green0\\blue255;}",
        "\\widowctrl\\hyphauto",
        "",
    ]
    # A heading line is a block of its own; other lines join into paragraphs.
    markdown = re.sub(r"^(#+ .*)$", r"\n\1\n", markdown.strip(), flags=re.M)
    for block in re.split(r"\n\s*\n", markdown.strip()):
        block = " ".join(block.split())
        heading = re.match(r"(#+)\s*(.*)", block)
        text = rtf_text(heading.group(2) if heading else block)
        text = re.sub(r"`([^`]*)`", r"{\\f1 \1}", text)
        if heading:
            lines.append(f"{{\\pard \\ql \\f0 \\sa180 \\li0 \\fi0 \\b \\fs36 {text}\\par}}")
        else:
            lines.append(f"{{\\pard \\ql \\f0 \\sa180 \\li0 \\fi0 {text}\\par}}")
    lines.append("}")
    return "\n".join(lines)


def raw_base(repo: str, ref: str) -> str:
    """The download URL prefix of reaper_scripts/ at `ref` for a GitHub repository URL."""
    m = re.match(r"^https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?$", repo)
    if not m:
        raise Problem(
            "--repo must be a GitHub repository URL like "
            f"https://github.com/OWNER/musicgen-bridge, got {repo!r}."
        )
    return f"https://github.com/{m.group(1)}/{m.group(2)}/raw/{quote(ref)}/reaper_scripts/"


def check_ref(ref: str) -> None:
    """Refuse a moving branch: `ref` must be a full commit hash or a tag (checked in the local
    git repository when there is one)."""
    if re.fullmatch(r"[0-9a-f]{40}", ref):
        return
    if ref.lower() in MOVING:
        raise Problem(
            f"--ref {ref} is a branch, which moves: give a tag (e.g. v0.4.0) or a full commit hash."
        )
    try:
        found = subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "-q", "--verify", f"refs/tags/{ref}"],
            capture_output=True,
            timeout=30,
        )
        inside = subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--git-dir"], capture_output=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return  # no git here: trust the name
    if inside.returncode == 0 and found.returncode != 0:
        raise Problem(
            f"--ref {ref} is not a tag of this repository. Tag the release first "
            f"(git tag {ref} && git push origin {ref}), or give a full commit hash."
        )


def files() -> tuple[list[str], list[str]]:
    """The action scripts and the lib files, as paths relative to reaper_scripts/."""
    actions = sorted(p.name for p in HERE.glob("MusicGen_*.lua"))
    libs = sorted(str(p.relative_to(HERE)) for p in (HERE / "lib" / "musicgen").glob("*.lua"))
    return actions, libs


def build(repo: str, ref: str) -> str:
    """The index.xml text."""
    check_ref(ref)
    base = raw_base(repo, ref)
    tags = header((HERE / MAIN).read_text(encoding="utf-8"))
    actions, libs = files()
    for action in actions:
        version = header((HERE / action).read_text(encoding="utf-8")).get("version")
        if version != tags["version"]:
            raise Problem(
                f"{action} is version {version}, {MAIN} is {tags['version']}: bump them together."
            )
    sources = [
        f'        <source main="main" file="{a}">{escape(base + quote(a))}</source>'
        for a in actions
    ]
    sources += [f'        <source file="{p}">{escape(base + quote(p))}</source>' for p in libs]
    changelog = " ".join(tags.get("changelog", "").split())
    about = to_rtf(tags.get("about", tags["description"]))
    comment = escape(f"{repo} at {ref}").replace("--", "- -")
    return "\n".join(
        [
            '<?xml version="1.0" encoding="utf-8"?>',
            # (an XML comment may not hold "--")
            f"<!-- Written by reaper_scripts/make_index.py for {comment}; do not edit. -->",
            '<index version="1" name="musicgen-bridge">',
            '  <category name="MusicGen">',
            f'    <reapack name="{MAIN}" type="script" desc={quoteattr(tags["description"])}>',
            "      <metadata>",
            f"        <description><![CDATA[{about}]]></description>",
            f'        <link rel="website">{escape(repo)}</link>',
            "      </metadata>",
            f'      <version name="{tags["version"]}" author={quoteattr(tags.get("author", ""))}>',
            f"        <changelog><![CDATA[{changelog}]]></changelog>",
            *sources,
            "      </version>",
            "    </reapack>",
            "  </category>",
            "</index>",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", required=True, help="https://github.com/OWNER/NAME")
    parser.add_argument("--ref", required=True, help="a tag (v0.4.0) or a full commit hash")
    parser.add_argument(
        "--output", default=str(HERE / "index.xml"), help="default reaper_scripts/index.xml"
    )
    args = parser.parse_args(argv)
    try:
        text = build(args.repo, args.ref)
    except Problem as exc:
        print(f"make_index: {exc}", file=sys.stderr)
        return 2
    Path(args.output).write_text(text, encoding="utf-8")
    print(
        f"wrote {args.output}; publish it (commit it, or attach it to the release) and add "
        "its raw URL "
        "in Extensions > ReaPack > Import repositories."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
