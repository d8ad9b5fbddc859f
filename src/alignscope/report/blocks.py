"""What a report is made of: sections of Markdown paragraphs, tables and figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Figure:
    stem: str
    caption: str


@dataclass
class Section:
    title: str
    blocks: list[Any] = field(default_factory=list)  # str (Markdown paragraph), Table, Figure


@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list[str]]
