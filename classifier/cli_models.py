"""CLI commands for training with labels, the model registry and labelling help."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from . import (
    RetrainResult,
    list_models,
    read_labels,
    remove_model,
    review_labels,
    show_model,
    suggest_lines,
    train_with_labels,
    use_model,
)
from .labels import read_texts
from .retrain import DEFAULT_EXPANSION, EXPANSIONS, TOLERANCE
from .review import suggestions_csv, suspects_csv, write_text
from .staging import check_output
from .store import LOCK_WAIT_S, models_dir

FILE = click.Path(dir_okay=False, path_type=Path)


def _say(message: str) -> None:
    click.echo(f"  {message}", err=True)


def _column_options(f: Any) -> Any:
    for option in reversed(
        [
            click.option("--text-column", default="text", show_default=True),
            click.option("--label-column", default="label", show_default=True),
            click.option("--lang-column", default="lang", show_default=True),
            click.option(
                "--drop-conflicts",
                is_flag=True,
                help="Leave out texts labelled two ways instead of stopping.",
            ),
        ]
    ):
        f = option(f)
    return f


_wait_option = click.option(
    "--wait",
    default=LOCK_WAIT_S,
    show_default=True,
    type=click.FloatRange(0),
    metavar="SECONDS",
    help="How long to wait for another run changing the registry (0: fail at once).",
)


def _why_no_active() -> str:
    """Return why no listed model is active (a bad ACTIVE, or a missing model)."""
    from .errors import ClassifierError
    from .store import resolve

    try:
        resolve(None)
    except ClassifierError as e:
        return str(e)
    return "`ciocto models use NAME` makes one active"


def register(group: click.Group) -> None:
    """Add train, models, review-labels and suggest to the `ciocto` group."""
    from .cli import model_options

    @group.command("train")
    @click.option(
        "--labels",
        "label_files",
        multiple=True,
        type=FILE,
        metavar="FILE",
        help="CSV or JSON Lines of labelled lines (text,label[,lang]); repeatable.",
    )
    @click.option(
        "--posting-labels", is_flag=True, help="The files hold whole postings with one label each."
    )
    @_column_options
    @click.option(
        "--name",
        help="Model name under models/ (default: 'default' without labels, else FILE-DATE).",
    )
    @click.option("--no-base", is_flag=True, help="Train on the labels only, not on data/.")
    @click.option(
        "--weight",
        default=1.0,
        show_default=True,
        type=click.FloatRange(0, min_open=True),
        help="Weight of your rows vs data/.",
    )
    @click.option(
        "--folds",
        default=5,
        show_default=True,
        type=click.IntRange(0, 20),
        help="Cross-validation folds for the comparison (0: no comparison).",
    )
    @click.option(
        "--holdout",
        type=FILE,
        metavar="FILE",
        help="Labelled rows (same kind as --labels) to compare both models on.",
    )
    @click.option(
        "--tolerance",
        default=TOLERANCE,
        show_default=True,
        type=click.FloatRange(0, 1),
        help="Macro-F1 drop still counted as not worse.",
    )
    @click.option("--force", is_flag=True, help="Make the new model active even if worse.")
    @click.option("--no-promote", is_flag=True, help="Never make the new model active.")
    @_wait_option
    @click.option(
        "--expand",
        default=DEFAULT_EXPANSION,
        show_default=True,
        type=click.Choice(EXPANSIONS),
        help="How posting labels become line labels.",
    )
    def train_cmd(
        label_files: tuple[Path, ...],
        posting_labels: bool,
        text_column: str,
        label_column: str,
        lang_column: str,
        drop_conflicts: bool,
        name: str | None,
        no_base: bool,
        weight: float,
        folds: int,
        holdout: Path | None,
        tolerance: float,
        force: bool,
        no_promote: bool,
        expand: str,
        wait: float,
    ) -> None:
        """Train a model on data/ plus your labels, compare it with the active model on the same
        folds, and make it active only if it is not worse."""

        def read(path: Path) -> Any:
            return read_labels(
                path,
                posting=posting_labels,
                text_column=text_column,
                label_column=label_column,
                lang_column=lang_column,
                drop_conflicts=drop_conflicts,
            )

        files = [read(p) for p in label_files]
        for f in files:
            dropped = f"{f.duplicates} duplicates dropped" if f.duplicates else ""
            if f.conflicts:
                dropped += f"{', ' if dropped else ''}{f.conflicts} conflicting rows dropped"
            click.echo(
                f"Read {len(f.rows)} {f.kind}{'' if len(f.rows) == 1 else 's'} from {f.path}"
                + (f" ({dropped})" if dropped else ""),
                err=True,
            )
        result = train_with_labels(
            files,
            name=name,
            base=not no_base,
            weight=weight,
            folds=folds,
            holdout=read(holdout) if holdout else None,
            force=force,
            promote=not no_promote,
            tolerance=tolerance,
            expansion=expand,
            progress=_say,
            wait=wait,
        )
        click.echo(render_result(result))

    @group.group("models", invoke_without_command=True)
    @click.pass_context
    def models_cmd(ctx: click.Context) -> None:
        """List the trained models (default), or show, use or remove one."""
        if ctx.invoked_subcommand is None:
            ctx.invoke(list_cmd)

    @models_cmd.command("list")
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
    def list_cmd(fmt: str = "text") -> None:
        """List the models: name, created, what it was trained on, macro-F1, which is active."""
        entries = list_models()
        if fmt == "json":
            click.echo(json.dumps([e.to_dict() for e in entries], indent=1, ensure_ascii=False))
            return
        click.echo(f"Registry: {models_dir()}")
        if not entries:
            click.echo("No models yet; run `ciocto train`.")
            return
        click.echo(f"  {'name':24} {'created':20} {'cv F1':>8}  trained on")
        for e in entries:
            mark = "*" if e.active else " "
            f1 = f"{e.macro_f1:.3f}" if e.macro_f1 is not None else "-"
            what = e.trained_on or f"unreadable: {e.problem}"
            click.echo(f"{mark} {e.name:24} {e.created[:19]:20} {f1:>8}  {what}")
        click.echo("(* active; `ciocto models use NAME` switches)")
        if not any(e.active for e in entries):
            click.echo(f"No model is active: {_why_no_active()}")

    @models_cmd.command("show")
    @click.argument("name")
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
    def show_cmd(name: str, fmt: str) -> None:
        """Show a model's card: data, config, versions, metrics, comparison, checksum."""
        card = show_model(name)
        if fmt == "json":
            click.echo(json.dumps(card, indent=1, ensure_ascii=False))
            return
        click.echo(render_card(card))

    @models_cmd.command("use")
    @click.argument("name")
    @_wait_option
    def use_cmd(name: str, wait: float) -> None:
        """Make NAME the active model (also the way to roll back)."""
        before = use_model(name, wait=wait, progress=_say)
        click.echo(f"Active model: {name} (was {before})")

    @models_cmd.command("remove")
    @click.argument("name")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @_wait_option
    def remove_cmd(name: str, yes: bool, wait: float) -> None:
        """Delete a model that is not the active one."""
        if not yes:
            click.confirm(f"Remove model {name!r}?", abort=True)
        click.echo(f"Removed {remove_model(name, wait=wait, progress=_say)}")

    @group.command("review-labels")
    @click.option(
        "--labels",
        "label_files",
        multiple=True,
        type=FILE,
        metavar="FILE",
        help="Review these line labels (default: the built-in data/).",
    )
    @_column_options
    @click.option("--no-base", is_flag=True, help="Do not train the folds on data/ as well.")
    @click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 20))
    @click.option(
        "-n",
        "--limit",
        default=30,
        show_default=True,
        type=click.IntRange(1),
        help="How many rows to list (with -o, all suspects are written).",
    )
    @click.option(
        "--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True
    )
    @click.option("-o", "--output", type=FILE, help="Write the suspects as CSV to this file.")
    def review_cmd(
        label_files: tuple[Path, ...],
        text_column: str,
        label_column: str,
        lang_column: str,
        drop_conflicts: bool,
        no_base: bool,
        folds: int,
        limit: int,
        fmt: str,
        output: Path | None,
    ) -> None:
        """List rows whose label the model confidently disagrees with, most suspicious first."""
        if output is not None:
            check_output(output, label_files)  # before the folds are trained, not after
        files = [
            read_labels(
                p,
                text_column=text_column,
                label_column=label_column,
                lang_column=lang_column,
                drop_conflicts=drop_conflicts,
            )
            for p in label_files
        ]
        suspects = review_labels(
            files, base=not no_base, config=_active_config(), folds=folds, progress=_say
        )
        if output is not None:
            write_text(output, suspects_csv(suspects), label_files)
            click.echo(f"Wrote {len(suspects)} suspect rows to {output}", err=True)
        elif fmt == "csv":
            click.echo(suspects_csv(suspects[:limit]), nl=False)
        else:
            click.echo(
                f"{len(suspects)} rows look mislabelled (showing {min(limit, len(suspects))})"
            )
            click.echo(f"{'where':34} {'label':8} {'model':8} {'p':>5}  text")
            for s in suspects[:limit]:
                text = s.text if len(s.text) <= 70 else s.text[:69] + "…"
                click.echo(f"{s.where:34} {s.label:8} {s.suggested:8} {s.p_suggested:5.2f}  {text}")

    @group.command("suggest")
    @click.argument("listings", type=FILE)
    @click.option("--text-column", default="text", show_default=True)
    @click.option("-n", "--limit", default=50, show_default=True, type=click.IntRange(1))
    @click.option("-o", "--output", type=FILE, help="Write the CSV here (default: stdout).")
    @model_options
    def suggest_cmd(
        listings: Path,
        text_column: str,
        limit: int,
        output: Path | None,
        model_ref: str | None,
        trust_model: bool,
    ) -> None:
        """Write the lines of unlabelled LISTINGS (CSV or JSON Lines) the model is least sure
        about, without near repeats, with an empty label column to fill in for `train`."""
        from .data import load_samples
        from .store import load_model

        if output is not None:
            check_output(output, [listings])
        model = load_model(model_ref, trust=trust_model)
        known = [s.text for s in load_samples()]
        chosen = suggest_lines(read_texts(listings, text_column), model, limit, known)
        text = suggestions_csv(chosen)
        if output is None:
            click.echo(text, nl=False)
        else:
            write_text(output, text, [listings])
            click.echo(
                f"Wrote {len(chosen)} lines to {output}; fill in the label column, then "
                f"`ciocto train --labels {output}`",
                err=True,
            )


def _active_config() -> Any:
    """Return the active model's config from its card (nothing unpickled), or the default."""
    from .config import Config
    from .errors import ClassifierError
    from .store import read_card, resolve

    try:
        return Config.from_dict(read_card(resolve(None)).get("config", {}))
    except ClassifierError:
        return Config()


def render_result(r: RetrainResult) -> str:
    """Return the report of a training run: data, new vs active side by side, the decision."""
    from .registry import describe_training

    t = r.training
    out = [
        f"Trained {r.model.name!r} on {describe_training(r.model.card)}: "
        f"{len(t.samples)} rows" + (f" ({len(t.extra)} yours)" if t.extra else "")
    ]
    out.extend(f"  note: {n}" for n in r.notes)
    if t.posting_line_conflicts:
        out.append(f"  note: {t.posting_line_conflicts} posting lines left out (tied labels)")
    if r.table:
        against = f"the active model {r.active!r}" if r.active else "nothing (no active model)"
        out.append(f"\nNew model vs {against}, on the same folds (cv) and holdout:")
        out.append(
            f"{'slice':26}{'n':>6}{'new F1':>9}{'active':>9}{'diff':>8}{'new acc':>9}{'active':>9}"
        )
        for row in r.table:
            a_f1, a_acc = row.get("active_f1"), row.get("active_acc")
            diff = f"{row['new_f1'] - a_f1:+8.3f}" if a_f1 is not None else f"{'':8}"
            out.append(
                f"{row['slice'][:25]:26}{row['n']:6d}{row['new_f1']:9.3f}"
                + (f"{a_f1:9.3f}" if a_f1 is not None else f"{'-':>9}")
                + diff
                + f"{row['new_acc']:9.3f}"
                + (f"{a_acc:9.3f}" if a_acc is not None else f"{'-':>9}")
            )
    out.append("")
    if r.promoted:
        out.append(f"Active model: {r.model.name} ({r.reason})")
    else:
        out.append(f"Not made active: {r.reason}")
    out.append(f"Saved {r.path}")
    return "\n".join(out)


def render_card(card: dict[str, Any]) -> str:
    """Return a model card as readable text."""
    m = card.get("metrics", {})
    cmp = card.get("comparison", {})
    lines = [
        f"name       {card.get('name')}{'  (active)' if card.get('active') else ''}",
        f"path       {card.get('path')}",
        f"created    {card.get('created')}",
        f"trained on {card.get('trained_on')}",
        f"rows       {card.get('n_samples')}",
        f"checksum   {card.get('checksum')}",
        "versions   " + ", ".join(f"{k} {v}" for k, v in card.get("versions", {}).items()),
        "config     " + json.dumps(card.get("config", {}), ensure_ascii=False),
    ]
    if m:
        lines.append(f"cv ({m.get('cv_folds')} folds)")
        for key, v in m.items():
            if isinstance(v, dict):
                lines.append(
                    f"  {key:18} n {v['n']:5}  macro-F1 {v['macro_f1']:.3f}  "
                    f"accuracy {v['accuracy']:.3f}"
                )
    if cmp:
        lines.append(f"compared with {cmp.get('against')}: {cmp.get('reason')}")
    return "\n".join(lines)
