"""The wheel as a user gets it: built, installed into a fresh virtual environment with no source
checkout on its path, and run from another folder.

The new environment borrows the project venv's dependencies through a .pth line (so nothing is
downloaded); a .pth line only adds a folder to sys.path, so the editable ciocto install in that
folder (itself a .pth hook) stays out, and `classifier` can only come from the wheel.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parent.parent
CTO = "Lead the engineering team and own the product architecture"
CIO_VI = "Quan ly ha tang mang, may chu va helpdesk cho benh vien"  # Vietnamese, no accents
LABELS = [
    ("Own the platform roadmap and the engineering hiring plan", "CTO"),
    ("Design the microservice architecture of the product", "CTO"),
    ("Lead the software engineers who build the mobile app", "CTO"),
    ("Run the service desk and the laptops of every office", "CIO"),
    ("Keep the ERP and the finance systems running", "CIO"),
    ("Negotiate the contracts of the IT suppliers", "CIO"),
    ("We offer a friendly team and a modern office", "neutral"),
    ("Send your CV to our recruiting team", "neutral"),
    ("Competitive salary and thirteenth-month bonus", "neutral"),
]


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Return every file under a folder with its size and modification time."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built offline from a copy of the checkout (nothing is written into it)."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "classifier", src / "classifier", symlinks=True, ignore=skip)
    shutil.copytree(ROOT / "data", src / "data", ignore=skip)
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    done = subprocess.run(
        [*build, "-w", str(base / "dist"), str(src)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{done.stderr}\n(`make setup` installs setuptools>=77, wheel)"
    (found,) = (base / "dist").glob("ciocto-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A new virtual environment with the wheel installed and the project's dependencies."""
    env = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(purelib) / "_project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: never touch the project venv's editable ciocto that pip can see
    install = [
        python,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--no-index",
        "--ignore-installed",
    ]
    done = subprocess.run([*install, str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return env


def test_the_wheel_carries_the_data_and_no_model(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    authored = sorted(p.name for p in (ROOT / "data").glob("authored_*.csv"))
    assert authored and all(f"classifier/_data/{n}" in names for n in authored)  # new ones too
    assert "classifier/_data/article_sentences.csv" in names
    assert any(n.startswith("classifier/_data/article/") for n in names)
    assert "classifier/py.typed" in names and "classifier/__main__.py" in names
    assert not [n for n in names if n.endswith(".joblib")]


def test_installed_ciocto_works_from_any_folder(venv: Path, tmp_path: Path) -> None:
    home, work, tmp = tmp_path / "home", tmp_path / "work", tmp_path / "tmp"
    for folder in (home, work, tmp):
        folder.mkdir()
    data_home = home / ".local" / "share"
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "XDG_DATA_HOME": str(data_home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }  # no CIOCTO_*, no PYTHONPATH: only what a new user has
    registry = data_home / "ciocto" / "models"

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == code, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    where = run("python", "-c", "import classifier; print(classifier.__file__)").stdout
    assert where.startswith(str(venv)), where  # the wheel's copy, not the checkout
    venv_before = tree(venv)

    version = run("ciocto", "--version").stdout
    assert version.startswith("ciocto 0.1.0 (scikit-learn ")
    assert "model: none ('default' is not trained yet)" in version
    assert f"registry: {registry}" in version

    posting = f"{CTO}\n{CIO_VI}\n"
    first = run("ciocto", "classify", "--text", posting, "--format", "json")  # trains on first use
    assert "No model yet: training the default model on the built-in data" in first.stderr
    assert f"Saved the default model in {registry / 'default'}" in first.stderr
    assert [line["tag"] for line in json.loads(first.stdout)["lines"]] == ["CTO", "CIO"]
    again = run("python", "-m", "classifier", "classify", "--text", CIO_VI)
    assert "Leaning: CIO" in again.stdout and again.stderr == ""  # trained once, kept
    assert "model: default (created " in run("ciocto", "--version").stdout

    rows = [("1", CTO), ("2", CIO_VI)]
    with open(work / "jobs.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("id", "body"), *rows])
    pq.write_table(pa.table({"id": ["1", "2"], "body": [CTO, CIO_VI]}), work / "jobs.parquet")
    book = openpyxl.Workbook()
    book.active.append(["id", "body"])
    for row in rows:
        book.active.append(list(row))
    book.save(work / "jobs.xlsx")
    inputs = {"jobs.csv", "jobs.parquet", "jobs.xlsx"}
    scoring = [  # at once: each run is mostly start-up
        subprocess.Popen(
            ["ciocto", "score", f"jobs.{ext}", "-o", f"scored.{ext}", "-j", "1", "-q"],
            cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for ext in ("csv", "parquet", "xlsx")
    ]  # fmt: skip
    for process in scoring:
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, f"{process.args}\n{out}\n{err}"
    with open(work / "scored.csv", encoding="utf-8") as f:
        assert [r["leaning"] for r in csv.DictReader(f)] == ["CTO", "CIO"]
    assert pq.read_table(work / "scored.parquet").column("leaning").to_pylist() == ["CTO", "CIO"]
    sheet = openpyxl.load_workbook(work / "scored.xlsx").worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:3] == ("id", "body", "leaning") and [v[2] for v in values[1:]] == [
        "CTO",
        "CIO",
    ]

    with open(work / "labels.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("text", "label"), *LABELS])
    inputs.add("labels.csv")
    train = run("ciocto", "train", "--labels", "labels.csv", "--name", "mine", "--folds", "0")
    assert "mine" in train.stdout
    listed = run("ciocto", "models").stdout
    assert listed.splitlines()[0] == f"Registry: {registry}"
    assert "* default" in listed and "  mine" in listed

    # nothing written outside the user's folder: not the package, not the working folder
    assert tree(venv) == venv_before
    assert {p.name for p in work.iterdir()} == inputs | {
        "scored.csv",
        "scored.parquet",
        "scored.xlsx",
    }
    assert {p.relative_to(home).parts[:4] for p in home.rglob("*") if p.is_file()} == {
        (".local", "share", "ciocto", "models")
    }
    assert not list(tmp.iterdir())

    elsewhere = dict(env, CIOCTO_HOME=str(tmp_path / "chosen"))
    version = subprocess.run(
        ["ciocto", "--version"], cwd=work, env=elsewhere, capture_output=True, text=True
    ).stdout
    assert f"registry: {tmp_path / 'chosen' / 'models'}" in version


def test_ciocto_home_holds_the_registry_and_may_hold_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from classifier.data import data_dir, data_files, project_root
    from classifier.firstuse import is_user_registry
    from classifier.store import models_dir

    monkeypatch.delenv("CIOCTO_MODELS", raising=False)
    monkeypatch.setenv("CIOCTO_HOME", str(tmp_path))
    assert project_root() == tmp_path and models_dir() == tmp_path / "models"
    assert is_user_registry(tmp_path / "models")  # where a first use may train
    packaged = [p.name for p in data_files()]  # no data/ there: the copy in the package
    assert data_dir() == ROOT / "classifier" / "_data"
    assert packaged == [p.name for p in data_files(ROOT / "data")]
    (tmp_path / "data").mkdir()
    assert data_dir() == tmp_path / "data"
    monkeypatch.setenv("CIOCTO_MODELS", str(tmp_path / "elsewhere"))
    assert not is_user_registry(models_dir())  # a named registry is never trained into
