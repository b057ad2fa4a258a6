"""Find the text files of a clone: by extension or name, without symlinks, binaries or files over the cap."""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

SNIFF_BYTES = 8192

MARKDOWN = frozenset({".md", ".markdown", ".mdx", ".mkd"})
TEXT = frozenset({".rst", ".txt", ".text", ".adoc", ".asciidoc", ".org", ".tex", ".csv", ".tsv"})
SOURCE = frozenset(
    {
        ".py",
        ".pyi",
        ".js",
        ".mjs",
        ".cjs",
        ".ts",
        ".tsx",
        ".jsx",
        ".java",
        ".kt",
        ".kts",
        ".scala",
        ".go",
        ".rs",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".cxx",
        ".hpp",
        ".hh",
        ".cs",
        ".rb",
        ".php",
        ".pl",
        ".pm",
        ".swift",
        ".m",
        ".mm",
        ".r",
        ".jl",
        ".lua",
        ".sh",
        ".bash",
        ".zsh",
        ".fish",
        ".ps1",
        ".sql",
        ".html",
        ".htm",
        ".css",
        ".scss",
        ".sass",
        ".less",
        ".vue",
        ".svelte",
        ".json",
        ".yaml",
        ".yml",
        ".toml",
        ".ini",
        ".cfg",
        ".conf",
        ".xml",
        ".proto",
        ".graphql",
        ".tf",
        ".hcl",
        ".ex",
        ".exs",
        ".erl",
        ".hs",
        ".ml",
        ".clj",
        ".dart",
        ".groovy",
        ".gradle",
        ".cmake",
        ".mk",
        ".dockerfile",
        ".nix",
        ".zig",
        ".el",
        ".vim",
    }
)
NAMES = frozenset(
    {
        "readme",
        "license",
        "licence",
        "copying",
        "authors",
        "contributors",
        "changelog",
        "changes",
        "news",
        "notice",
        "install",
        "makefile",
        "dockerfile",
        "containerfile",
        "procfile",
        "gemfile",
        "rakefile",
        "justfile",
        "vagrantfile",
        "jenkinsfile",
        "codeowners",
        ".gitignore",
        ".gitattributes",
        ".editorconfig",
    }
)


@dataclass
class Listing:
    """The files to read, in path order, and how many of the others were skipped and why."""

    paths: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)


def is_text_name(path: str) -> bool:
    """Whether the file's extension or name marks it as text that ingest reads."""
    name = PurePosixPath(path).name.lower()
    suffix = PurePosixPath(name).suffix
    return (
        suffix in MARKDOWN or suffix in TEXT or suffix in SOURCE or name in NAMES or PurePosixPath(name).stem in NAMES
    )


def is_markdown(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() in MARKDOWN


def files_list(*, root: Path, max_file_bytes: int, tick: Callable[[], None] = lambda: None) -> Listing:
    """List the text files under root (relative POSIX paths), skipping .git, symlinks and files over the cap."""
    listing = Listing()
    for folder, dirnames, filenames in os.walk(root):
        tick()
        for name in list(dirnames):
            full = os.path.join(folder, name)
            if name == ".git":
                dirnames.remove(name)
            elif os.path.islink(full):
                listing.skipped["symlink"] += 1  # os.walk would not descend into it anyway; count it
        for name in filenames:
            full = os.path.join(folder, name)
            relative = os.path.relpath(full, root).replace(os.sep, "/")
            info = os.lstat(full)
            if stat.S_ISLNK(info.st_mode):
                listing.skipped["symlink"] += 1
            elif not stat.S_ISREG(info.st_mode):
                listing.skipped["other"] += 1
            elif not is_text_name(relative):
                listing.skipped["other"] += 1
            elif info.st_size > max_file_bytes:
                listing.skipped["too_large"] += 1
            else:
                listing.paths.append(relative)
    listing.paths.sort()
    return listing


def file_read(*, root: Path, path: str) -> str | None:
    """The file's text (undecodable bytes replaced), or None when it holds a NUL byte, the mark of a binary."""
    data = (root / path).read_bytes()
    if b"\x00" in data:
        return None
    return data.decode("utf-8", "replace").removeprefix("\ufeff")
