"""The registry: list, show, use (and roll back), remove; tampered or foreign models refused."""

from __future__ import annotations

import json
import shutil
import warnings
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
from classifier.registry import ActiveModelRemoval
from classifier.store import active_name

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
