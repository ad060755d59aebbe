"""The registry: list, show, use (and roll back), remove; tampered or foreign models refused."""

from __future__ import annotations

import json
import shutil
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifier import (
    ModelIntegrityError,
    ModelNotFound,
    list_models,
    load_model,
    remove_model,
    show_model,
    use_model,
)
from classifier.cli import main
from classifier.errors import RegistryError
from classifier.registry import ActiveModelRemoval
from classifier.store import active_name, registry_lock

TEXT = "Lead the engineering team and own the product architecture"


@pytest.fixture
def registry(models_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private registry: `default` (active) and `other`, a copy of it under another name."""
    root = tmp_path / "models"
    shutil.copytree(models_root, root)
    shutil.copytree(root / "default", root / "other")
    card = json.loads((root / "other" / "card.json").read_text())
    card.update(name="other", created="2099-01-01T00:00:00+00:00")
    (root / "other" / "card.json").write_text(json.dumps(card))
    monkeypatch.setenv("CIOCTO_MODELS", str(root))
    return root


def tamper(directory: Path) -> None:
    path = directory / "model.joblib"
    path.write_bytes(path.read_bytes() + b"\0")


def test_list_shows_every_model_and_which_is_active(registry: Path) -> None:
    (registry / ".tmp-half-written").mkdir()  # a save in progress is not a model
    (registry / "junk").mkdir()
    entries = {e.name: e for e in list_models(registry)}
    assert set(entries) == {"default", "other", "junk"}
    assert entries["default"].active and not entries["other"].active
    assert entries["default"].trained_on.startswith("data/ (")
    assert entries["default"].problem == "" and "not a ciocto model" in entries["junk"].problem
    assert [e.name for e in list_models(registry)][0] == "other"  # newest first
    out = CliRunner().invoke(main, ["models"]).output
    assert "* default" in out and "  other" in out


def test_use_switches_and_rolls_back(registry: Path) -> None:
    assert use_model("other", registry) == "default"
    assert active_name(registry) == "other" and load_model().name == "other"
    runner = CliRunner()
    result = runner.invoke(main, ["classify", "--text", TEXT, "--format", "json"])
    assert json.loads(result.output)["model"]["name"] == "other"
    result = runner.invoke(main, ["models", "use", "default"])
    assert result.output == "Active model: default (was other)\n"
    assert load_model().name == "default"


def test_a_tampered_model_is_refused_by_use_and_load(registry: Path) -> None:
    tamper(registry / "other")
    with pytest.raises(ModelIntegrityError, match="checksum"):
        use_model("other", registry)
    assert active_name(registry) == "default"
    result = CliRunner().invoke(main, ["classify", "--model", "other", "--text", TEXT])
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    assert "does not match the checksum in its card" in result.output
    assert "Traceback" not in result.output
    assert show_model("other", registry)["checksum"].endswith("it was changed or replaced")


def test_a_model_from_elsewhere_loads_only_if_it_checks_or_is_trusted(
    registry: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "downloaded"
    shutil.copytree(registry / "other", elsewhere)
    runner = CliRunner()
    ok = runner.invoke(main, ["classify", "--model", str(elsewhere), "--text", TEXT])
    assert ok.exit_code == 0 and "Model: other" in ok.output
    (elsewhere / "card.json").unlink()
    refused = runner.invoke(main, ["classify", "--model", str(elsewhere), "--text", TEXT])
    assert refused.exit_code == 1 and "has no card.json" in refused.output
    trusted = runner.invoke(
        main, ["classify", "--model", str(elsewhere), "--trust-model", "--text", TEXT]
    )
    assert trusted.exit_code == 0 and "Leaning: CTO" in trusted.output


def test_remove_refuses_the_active_model(registry: Path) -> None:
    with pytest.raises(ActiveModelRemoval, match="'default' is the active model"):
        remove_model("default", registry)
    result = CliRunner().invoke(main, ["models", "remove", "default", "--yes"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: 'default' is the active model; switch first")
    assert (registry / "default" / "model.joblib").exists()
    aborted = CliRunner().invoke(main, ["models", "remove", "other"], input="n\n")
    assert aborted.exit_code == 1 and (registry / "other").exists()
    assert remove_model("other", registry) == registry / "other"
    assert not (registry / "other").exists()
    assert sorted(p.name for p in registry.iterdir() if p.is_dir()) == ["default"]
    with pytest.raises(ModelNotFound, match="no model named 'other'.*models: default"):
        remove_model("other", registry)
    with pytest.raises(Exception, match="bad model name"):
        remove_model("../default", registry)


def test_show_gives_the_card_with_checks(registry: Path) -> None:
    card = show_model("default", registry)
    assert card["checksum"] == "ok" and card["active"] is True
    assert card["path"] == str(registry / "default")
    result = CliRunner().invoke(main, ["models", "show", "default"])
    assert result.exit_code == 0
    assert "checksum   ok" in result.output and "name       default  (active)" in result.output
    as_json = CliRunner().invoke(main, ["models", "show", "other", "--format", "json"])
    assert json.loads(as_json.output)["name"] == "other"


def test_a_model_from_another_scikit_learn_warns_once(registry: Path) -> None:
    card_path = registry / "other" / "card.json"
    card = json.loads(card_path.read_text())
    card["versions"]["scikit-learn"] = "0.0-test-registry"
    card_path.write_text(json.dumps(card))
    with pytest.warns(UserWarning, match=r"scikit-learn 0.0-test-registry.*retrain"):
        load_model("other")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model("other")  # once is enough


@pytest.fixture
def elsewhere(registry: Path, tmp_path: Path) -> Path:
    """A valid model outside the registry, which nothing in the registry may load."""
    path = tmp_path / "elsewhere"
    shutil.copytree(registry / "other", path)
    return path


@pytest.mark.parametrize(
    "active",
    [b"\xff\xfe\xfa not UTF-8", b"../elsewhere\n", "ABSOLUTE", b"default/../../elsewhere"],
    ids=["not-utf8", "dot-dot", "absolute", "inside-then-out"],
)
def test_active_must_name_a_model_not_a_path(
    registry: Path, elsewhere: Path, active: bytes | str
) -> None:
    data = str(elsewhere).encode() if active == "ABSOLUTE" else active
    assert isinstance(data, bytes)
    (registry / "ACTIVE").write_bytes(data)
    with pytest.raises(RegistryError, match="ciocto models use NAME"):
        load_model()
    runner = CliRunner()
    result = runner.invoke(main, ["classify", "--text", TEXT])
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    assert "ACTIVE" in result.output and "ciocto models use NAME" in result.output
    assert len(result.output.splitlines()) == 1 and "Traceback" not in result.output
    listed = runner.invoke(main, ["models"])  # listing still works, and says why none is active
    assert listed.exit_code == 0 and not [x for x in listed.output.splitlines() if x[:2] == "* "]
    assert "No model is active: " in listed.output
    fixed = runner.invoke(main, ["models", "use", "default"])
    assert fixed.output == "Active model: default (was none)\n"
    assert load_model().name == "default"


def test_an_active_model_linked_from_outside_is_refused(registry: Path, elsewhere: Path) -> None:
    (registry / "linked").symlink_to(elsewhere, target_is_directory=True)
    (registry / "ACTIVE").write_text("linked\n")
    result = CliRunner().invoke(main, ["classify", "--text", TEXT])
    assert result.exit_code == 1 and "leads outside the registry" in result.output
    with pytest.raises(RegistryError, match="outside the registry"):
        use_model("linked", registry)
    (registry / "alias").symlink_to("default", target_is_directory=True)  # inside: fine
    use_model("alias", registry)
    assert load_model().name == "default"


def test_a_missing_active_model_says_how_to_choose_another(registry: Path) -> None:
    (registry / "ACTIVE").write_text("gone\n")
    result = CliRunner().invoke(main, ["classify", "--text", TEXT])
    assert result.exit_code == 1
    assert result.output.startswith("Error: the active model 'gone' is not in ")
    assert "`ciocto models use NAME` makes another one active (models: default, other)" in (
        result.output
    )
    # a save killed between its two renames leaves the previous model beside its place
    (registry / "ACTIVE").write_text("default\n")
    (registry / "default").rename(registry / ".old-default-x1y2")
    with pytest.raises(ModelNotFound) as e:
        load_model()
    assert "an interrupted save left the previous 'default' in " in str(e.value)
    assert f"`mv {registry / '.old-default-x1y2'} {registry / 'default'}`" in str(e.value)


@pytest.mark.parametrize("content", ["dict", "pipeline"])
def test_a_model_file_that_is_not_a_ciocto_pipeline_is_refused(
    registry: Path, content: str
) -> None:
    import joblib
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from classifier.store import sha256_file

    path = registry / "other" / "model.joblib"
    joblib.dump({"a": 1} if content == "dict" else Pipeline([("x", StandardScaler())]), path)
    card = json.loads((registry / "other" / "card.json").read_text())
    card["model_sha256"] = sha256_file(path)  # the card vouches for it: the type still counts
    (registry / "other" / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelIntegrityError, match="not a ciocto pipeline"):
        load_model("other")
    for extra in ([], ["--trust-model"]):
        result = CliRunner().invoke(main, ["classify", "--model", "other", *extra, "--text", TEXT])
        assert result.exit_code == 1 and result.output.startswith("Error: ")
        assert "not a ciocto pipeline" in result.output and "Traceback" not in result.output


@contextmanager
def held_elsewhere(root: Path) -> Iterator[None]:
    """Hold the registry's lock from another thread, as a second run would, for the block."""
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        with registry_lock(root):
            taken.set()
            done.wait(60)

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(10)
    try:
        yield
    finally:
        done.set()
        thread.join()


def test_use_and_remove_wait_for_the_lock_then_give_up(registry: Path) -> None:
    runner = CliRunner()
    with held_elsewhere(registry):
        result = runner.invoke(main, ["models", "use", "other", "--wait", "0.3"])
        assert result.exit_code == 1, result.output
        assert "  waiting for another train (or `models use/remove`) to finish with " in (
            result.stderr
        )
        assert result.stdout == ""
        assert result.stderr.splitlines()[-1].startswith(
            "Error: another `ciocto train` or `ciocto models use/remove` is changing "
        )
        assert active_name(registry) == "default"
        result = runner.invoke(main, ["models", "remove", "other", "--yes", "--wait", "0"])
        assert result.exit_code == 1 and (registry / "other").is_dir()
    assert runner.invoke(main, ["models", "use", "other", "--wait", "0"]).exit_code == 0
    assert active_name(registry) == "other"
    assert sorted(p.name for p in registry.iterdir()) == ["ACTIVE", "default", "other"]
