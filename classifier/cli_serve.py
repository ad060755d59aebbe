"""`ciocto serve`: the local web page, a thin adapter over classifier.web."""

from __future__ import annotations

import click

from .cli import model_options

WEB_EXTRA = "the web page needs the web extra: pip install 'ciocto[web]'"


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback makes the page reachable "
                   "from other machines, with no login.")  # fmt: skip
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one).")  # fmt: skip
@click.option("--max-upload-mb", default=20.0, show_default=True,
              type=click.FloatRange(0.001, 2000), help="Largest CSV upload, in MB.")  # fmt: skip
@click.option("--max-rows", default=5000, show_default=True, type=click.IntRange(1),
              help="Most CSV rows scored per upload.")  # fmt: skip
@click.option("--idle-timeout", default=5.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help="Seconds before a connection that sends no request is closed.")  # fmt: skip
@click.option("--allow-train", is_flag=True,
              help="Let the page train a model from its corrections (off: a shared server "
                   "may not want it). Corrections themselves are always kept.")  # fmt: skip
@click.option("--train-folds", default=5, show_default=True, type=click.IntRange(2, 10),
              help="Cross-validation folds of a training run started from the page.")  # fmt: skip
@model_options
def serve_cmd(
    host: str,
    port: int,
    max_upload_mb: float,
    max_rows: int,
    idle_timeout: float,
    allow_train: bool,
    train_folds: int,
    model_ref: str | None,
    trust_model: bool,
) -> None:
    """Serve the page for pasting a posting and seeing every line coloured (and its JSON API)."""
    try:
        import uvicorn  # noqa: F401  (checked here so a missing extra is one clear line)

        from . import web
    except ImportError:
        raise click.ClickException(WEB_EXTRA) from None
    from .store import load_model

    model = load_model(model_ref, trust=trust_model)
    limits = web.Limits(upload_bytes=int(max_upload_mb * 1e6), rows=max_rows)
    app = web.create_app(
        model,
        limits=limits,
        allowed_hosts=web.allowed_hosts_for(host),
        allow_train=allow_train,
        train_folds=train_folds,
        trust_model=trust_model,
    )
    sock = web.bind(host, port)
    if web.allowed_hosts_for(host) is None:
        click.echo(f"Warning: listening on {host}: anyone who can reach it can use it.", err=True)
    click.echo(f"Serving model {model.name!r} on {web.url_of(sock)}  (Ctrl-C to stop)", err=True)
    web.serve(app, sock, idle_timeout=idle_timeout)


def register(group: click.Group) -> None:
    """Add this module's commands to the `ciocto` group."""
    group.add_command(serve_cmd)
