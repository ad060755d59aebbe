"""Which columns hold a listing's text and id: by name, forgiving case and accents, or guessed."""

from __future__ import annotations

from .errors import BadInput
from .normalize import fold
from .tableio import Row

# Column names that hold the listing text, best first (compared case-, accent- and
# separator-insensitively), for when --text-column is not given.
TEXT_NAMES = (
    "description", "jobdescription", "descriptiontext", "body", "text", "content",
    "fulldescription", "details", "jobdetails", "posting", "listing", "mota",
    "motacongviec", "summary",
)  # fmt: skip


def _key(name: str) -> str:
    return "".join(c for c in fold(str(name)) if c.isalnum())


def find_column(columns: list[str], name: str, option: str) -> int:
    """Return the index of a column by exact name, else by a unique case-insensitive match."""
    if name in columns:
        return columns.index(name)
    matches = [i for i, c in enumerate(columns) if _key(c) == _key(name)]
    if len(matches) == 1:
        return matches[0]
    raise BadInput(f"column {name!r} not found; columns are: {', '.join(columns)} — pass {option}")


def guess_text_column(columns: list[str], rows: list[Row]) -> tuple[int, str]:
    """Return (index, how) of the column that obviously holds the listing text, else raise."""
    keys = [_key(c) for c in columns]
    for name in TEXT_NAMES:
        if keys.count(name) == 1:
            return keys.index(name), "by its name"
    rows = [r for r in rows if not r.error]
    if rows:
        mean = [
            sum(len(v) if isinstance(v, str) else 0 for v in (r.cells[i] for r in rows)) / len(rows)
            for i in range(len(columns))
        ]
        order = sorted(range(len(columns)), key=lambda i: -mean[i])
        runner_up = mean[order[1]] if len(order) > 1 else 0.0
        if mean[order[0]] >= 80 and mean[order[0]] >= 3 * runner_up:
            return order[0], "as the one with the longest text"
    raise BadInput(
        f"cannot tell which column holds the listing text; columns are: {', '.join(columns)} "
        "— pass --text-column"
    )
