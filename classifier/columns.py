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


def unique_names(columns: list[str]) -> list[str]:
    """Return column names made unique: a repeated 'x' becomes 'x.1', as the output names it."""
    seen: dict[str, int] = {}
    out = []
    for name in columns:
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
            while name in seen:
                name += "_"
        seen.setdefault(name, 0)
        out.append(name)
    return out


def find_column(columns: list[str], name: str, option: str) -> int:
    """Return the index of a column by exact name, else by a unique case-insensitive match.

    A name the header repeats must be told apart as the output names it: 'x', 'x.1', ...
    """
    unique = unique_names(columns)
    if columns.count(name) > 1:
        where = [unique[i] for i, c in enumerate(columns) if c == name]
        raise BadInput(
            f"the header has {len(where)} columns named {name!r}; pass {option} "
            f"{' or '.join(repr(w) for w in where)} to choose one"
        )
    if name in unique:
        return unique.index(name)
    matches = [i for i, c in enumerate(unique) if _key(c) == _key(name)]
    if len(matches) == 1:
        return matches[0]
    raise BadInput(f"column {name!r} not found; columns are: {', '.join(unique)} — pass {option}")


def looks_like_data(name: str) -> bool:
    """Return True when a header cell reads like a listing's text, not a column name."""
    return len(name) > 80 or len(name.split()) >= 8


def check_header(source: str, columns: list[str], chosen: list[int]) -> None:
    """Refuse a table whose chosen text column is named by a sentence: it has no header row."""
    for i in chosen:
        if looks_like_data(columns[i]):
            text = columns[i] if len(columns[i]) <= 40 else columns[i][:39] + "…"
            raise BadInput(
                f"{source}: the first row looks like data, not a header (a column named "
                f"{text!r}), so it would be lost; add a header row naming the columns, "
                "e.g. id,description"
            )


def guess_text_column(
    columns: list[str], rows: list[Row], source: str = "the table"
) -> tuple[int, str]:
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
    if any(looks_like_data(c) for c in columns):
        check_header(source, columns, [i for i, c in enumerate(columns) if looks_like_data(c)])
    raise BadInput(
        "cannot tell which column holds the listing text; columns are: "
        f"{', '.join(unique_names(columns))} — pass --text-column"
    )
