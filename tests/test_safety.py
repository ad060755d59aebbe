"""Nothing lost, nothing replaced, no traceback (issue 13): what every writer does with devices,
FIFOs, symlinks, its own inputs and a full disk, and how tables are read whatever wrote them."""

from __future__ import annotations

import csv
import errno
import gzip
import io
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from classifier import BadInput, DataError, batch, read_labels
from classifier.cli import main
from classifier.labels import read_texts
from classifier.review import write_text
from classifier.staging import Staged

CTO = "Lead the engineering team, own the product architecture, cloud platform and APIs."
CIO = "Run the IT service desk, the ERP, internal networks, compliance and vendor contracts."


@pytest.fixture(autouse=True)
def _registry(models_root: Path) -> None:
    """CLI commands load the model from the test registry (CIOCTO_MODELS)."""


def invoke(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def listings(path: Path, n: int = 6) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "description"])
        writer.writerows([[i, CTO if i % 2 else CIO] for i in range(n)])
    return path


def node(path: Path, kind: int, major: int, minor: int) -> Path:
    try:
        os.mknod(path, kind | 0o666, os.makedev(major, minor))
    except PermissionError:
        pytest.skip("creating device nodes needs root")
    return path


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def cli(*args: str, models_root: Path, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, CIOCTO_MODELS=str(models_root))
    command = [sys.executable, "-c", "from classifier.cli import main; main()", *args]
    kw.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(command, env=env, stderr=subprocess.PIPE, timeout=120, **kw)


# -- 1. an output that is a device, a FIFO or a symlink -------------------------------------


def test_a_character_device_is_written_through_not_replaced(tmp_path: Path) -> None:
    mynull = node(tmp_path / "mynull", stat.S_IFCHR, 1, 3)
    result = invoke("score", str(listings(tmp_path / "L.csv")), "-o", str(mynull), "-q")
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(mynull.stat().st_mode)
    assert hidden(tmp_path) == []


def test_a_full_device_is_one_error_and_stays_a_device(tmp_path: Path) -> None:
    myfull = node(tmp_path / "myfull", stat.S_IFCHR, 1, 7)
    result = invoke("score", str(listings(tmp_path / "L.csv")), "-o", str(myfull), "-q")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot write {myfull}: No space left on device (the disk is full) — "
        "free some space and run again\n"
    )
    assert stat.S_ISCHR(myfull.stat().st_mode)
    assert hidden(tmp_path) == []


def test_a_fifo_gets_the_output_its_reader_expects(tmp_path: Path) -> None:
    src = listings(tmp_path / "L.csv")
    fifo = tmp_path / "myfifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = invoke("score", str(src), "-o", str(fifo), "-q")
    reader.join(30)
    if reader.is_alive():  # the FIFO was replaced: let its reader go
        with open(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), "wb"):
            pass
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    plain = tmp_path / "plain.csv"
    assert invoke("score", str(src), "-o", str(plain), "-q").exit_code == 0
    assert got == [plain.read_bytes()] and len(got[0]) > 100
    assert hidden(tmp_path) == []


def test_a_symlink_keeps_pointing_at_its_replaced_target(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "scored.csv"
    real.write_text("old\n")
    real.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    result = invoke("score", str(listings(tmp_path / "L.csv")), "-o", str(link), "-q")
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text().startswith("id,description,leaning")
    assert stat.S_IMODE(real.stat().st_mode) == 0o640  # the replaced file's mode is kept
    assert hidden(tmp_path) == [] and hidden(real.parent) == []


def test_a_block_device_is_refused_and_a_device_cannot_be_resumed(tmp_path: Path) -> None:
    src = str(listings(tmp_path / "L.csv"))
    disk = node(tmp_path / "disk", stat.S_IFBLK, 7, 0)
    result = invoke("score", src, "-o", str(disk))
    assert result.exit_code == 1
    assert f"Error: -o {disk} is a block device (a disk); give a file name" in result.output
    mynull = node(tmp_path / "mynull", stat.S_IFCHR, 1, 3)
    result = invoke("score", src, "-o", str(mynull), "--resume")
    assert result.exit_code == 1
    assert "--resume needs -o FILE" in result.output and "written straight through" in result.output


def test_the_small_writer_follows_the_same_rules(tmp_path: Path) -> None:
    """suggest and review-labels write through `write_text`: the same staged writer as score."""
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    write_text(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"
    with pytest.raises(BadInput, match="is the input file"):
        write_text(real, "over the input\n", [link])
    assert real.read_text() == "new\n"
    mynull = node(tmp_path / "mynull", stat.S_IFCHR, 1, 3)
    write_text(mynull, "x\n")
    assert stat.S_ISCHR(mynull.stat().st_mode)
    assert hidden(tmp_path) == []


# -- 2. an output that is one of the inputs --------------------------------------------------


def test_suggest_and_review_labels_refuse_to_write_over_their_input(tmp_path: Path) -> None:
    src = listings(tmp_path / "L.csv")
    before = src.read_bytes()
    result = invoke("suggest", str(src), "--text-column", "description", "-o", str(src))
    assert result.exit_code == 1
    assert result.output == f"Error: -o {src} is the input file; write to another file\n"
    labels = tmp_path / "F.csv"
    labels.write_text(f'text,label\n"{CTO}",CTO\n"{CIO}",CIO\n')
    link = tmp_path / "same.csv"
    link.symlink_to(labels)
    result = invoke("review-labels", "--labels", str(labels), "-o", str(link))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: -o {link} is the input file {labels}; write to another file\n"
    )
    assert src.read_bytes() == before and labels.read_text().startswith("text,label\n")


def test_score_refuses_a_hard_link_to_its_input(tmp_path: Path) -> None:
    src = listings(tmp_path / "L.csv")
    other = tmp_path / "other-name.csv"
    os.link(src, other)
    result = invoke("score", str(src), "-o", str(other))
    assert result.exit_code == 1
    assert result.output.endswith(
        f"Error: -o {other} is the input file {src}; write to another file\n"
    )
    assert other.read_bytes() == src.read_bytes()


def test_a_full_disk_leaves_the_old_output_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "to_label.csv"
    out.write_text("the old output\n")
    monkeypatch.setattr(Staged, "open", full_disk_after(10))
    with pytest.raises(Exception, match="No space left on device"):
        write_text(out, "text,label\n" + "a line to label,\n" * 1000)
    assert out.read_text() == "the old output\n"
    assert hidden(tmp_path) == []


# -- 3. a full disk, an I/O error, a closed pipe ---------------------------------------------


class _FullDisk(io.FileIO):
    """A file on a disk that fills up after `room` bytes."""

    room = 0

    def write(self, b: Any) -> int:
        if self.tell() + len(b) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(b)


def full_disk_after(room: int, error: int = errno.ENOSPC) -> Any:
    def open_part(self: Staged, offset: int | None) -> io.FileIO:
        f = _FullDisk(self.part, "w" if offset is None else "r+")
        f.room = room
        if offset is not None:
            f.truncate(offset)
            f.seek(offset)
        return f

    return open_part


@pytest.mark.parametrize("name", ["out.csv", "out.jsonl"])
def test_a_full_disk_in_score_is_one_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    src = listings(tmp_path / "L.csv", n=40)
    monkeypatch.setattr(Staged, "open", full_disk_after(3000))
    monkeypatch.setattr(batch, "CHECKPOINT_SECONDS", 0.0)  # a checkpoint before the disk fills
    out = tmp_path / name
    result = invoke("score", str(src), "-o", str(out), "-q", "--chunk-rows", "2", "-j", "1")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot write {out}: No space left on device (the disk is full); the partial "
        "output was removed — free some space and run again\n"
    )
    assert hidden(tmp_path) == [] and not out.exists()


def test_a_full_disk_while_writing_parquet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.parquet as pq

    calls = []

    def full(*args: Any, **kw: Any) -> None:
        calls.append(1)
        if len(calls) > 2:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(*args, **kw)

    real = pq.write_table
    monkeypatch.setattr(pq, "write_table", full)
    monkeypatch.setattr(batch, "CHECKPOINT_SECONDS", 0.0)
    out = tmp_path / "out.parquet"
    src = listings(tmp_path / "L.csv", n=40)
    result = invoke("score", str(src), "-o", str(out), "-q", "--chunk-rows", "2", "-j", "1")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot write {out}: Input/output error;")
    assert hidden(tmp_path) == [] and not out.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["classify", "--text", CTO],
        ["score", "L.csv", "-o", "-", "-q"],
        ["models"],
    ],
)
def test_a_full_standard_output_is_one_error_line(
    tmp_path: Path, models_root: Path, args: list[str]
) -> None:
    listings(tmp_path / "L.csv")
    with open("/dev/full", "wb") as full:
        done = cli(*args, models_root=models_root, cwd=tmp_path, stdout=full)
    assert done.returncode == 1
    assert done.stderr.decode().splitlines()[-1:] == [
        "Error: cannot write standard output: No space left on device (the disk is full) — "
        "free some space and run again"
        if args[0] == "score"
        else "Error: cannot write the output: No space left on device (the disk is full) — "
        "free some space and run again"
    ]
    assert b"Traceback" not in done.stderr and done.stderr.count(b"Error") == 1


def test_a_closed_pipe_stops_quietly(tmp_path: Path, models_root: Path) -> None:
    src = listings(tmp_path / "L.csv", n=3000)
    env = dict(os.environ, CIOCTO_MODELS=str(models_root))
    command = [sys.executable, "-c", "from classifier.cli import main; main()"]
    command += ["score", str(src), "-o", "-", "-q", "--chunk-rows", "50", "-j", "1"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"id,description,leaning")
    proc.stdout.close()  # like `| head -1`
    stderr = proc.stderr.read()
    assert proc.wait(60) == 141
    assert stderr == b""


# -- 7. encodings and headers ------------------------------------------------------------------


def test_utf16_without_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    src = tmp_path / "u16.csv"
    src.write_bytes(listings(tmp_path / "L.csv").read_text().encode("utf-16-le"))
    for extra in (["--encoding", "utf-16-le"], []):
        out = tmp_path / "o.csv"
        result = invoke("score", str(src), "-o", str(out), *extra)
        assert result.exit_code == 0, result.output
        assert "in UTF-16 LE" in result.output
        assert len(list(csv.DictReader(out.open(encoding="utf-8")))) == 6


def test_a_repeated_header_name_is_chosen_as_the_output_names_it(tmp_path: Path) -> None:
    src = tmp_path / "dup.csv"
    src.write_text(f'id,description,description\n1,short,"{CTO}"\n2,short,"{CIO}"\n')
    result = invoke("score", str(src), "--text-column", "description")
    assert result.exit_code == 1
    assert result.output.endswith(
        "Error: the header has 2 columns named 'description'; pass --text-column "
        "'description' or 'description.1' to choose one\n"
    )
    result = invoke("score", str(src), "--text-column", "description.1", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    assert "listing text from column 'description.1' (given)" in result.stderr
    assert '"leaning": "CTO"' in result.stdout.splitlines()[0]


def test_a_table_without_a_header_row_is_refused_not_shortened(tmp_path: Path) -> None:
    src = tmp_path / "noheader.csv"
    src.write_text(f'1,"{CTO}"\n2,"{CIO}"\n')
    result = invoke("score", str(src), "--text-column", CTO)
    assert result.exit_code == 1
    assert "the first row looks like data, not a header" in result.output
    assert "add a header row naming the columns" in result.output
    assert "Scored" not in result.output


# -- 8. suggest and train --labels read tables as score does -----------------------------------


VI = "Quản lý hạ tầng mạng và hệ thống ERP nội bộ"
FR = "Gérer le réseau et les contrats des fournisseurs"


@pytest.mark.parametrize(
    ("name", "first", "encode"),
    [
        ("L.csv.gz", VI, lambda t: gzip.compress(t.encode())),
        ("L16.csv", VI, lambda t: t.encode("utf-16")),
        ("L1252.csv", FR, lambda t: t.encode("cp1252")),
    ],
)
def test_suggest_reads_what_score_reads(tmp_path: Path, name: str, first: str, encode: Any) -> None:
    src = tmp_path / name
    src.write_bytes(encode(f"id,text\n1,{first}\n2,Lead the engineers\n"))
    assert [t for _, t in read_texts(src)] == [first, "Lead the engineers"]


def test_an_unclosed_quote_is_named_as_such_for_labels_and_suggest(tmp_path: Path) -> None:
    src = tmp_path / "q.csv"
    src.write_text('text,label\n"Run the helpdesk,CIO\nShip features,CTO\n')
    for read in (read_labels, read_texts):
        with pytest.raises(DataError, match="a quote opened in row 1 .* is never closed"):
            read(src)


# -- 9. messages that say what to do next ------------------------------------------------------


def test_decoding_errors_name_line_and_character_and_encodings(tmp_path: Path) -> None:
    bad = tmp_path / "p.txt"
    bad.write_bytes("Dòng một\nHai ".encode() + b"\xff tail\n")
    result = invoke("classify", str(bad))
    assert result.exit_code == 1
    assert "(line 2, character 5)" in result.output and "byte" not in result.output
    result = invoke("classify", str(bad), "--encoding", "klingon")
    assert result.output == (
        "Error: unknown encoding 'klingon'; try utf-8, utf-8-sig, utf-16, cp1258 or cp1252\n"
    )
    result = invoke("classify", "--text", CTO, "--evidence", "-1")
    assert result.exit_code == 2 and "-1 is not in the range" in result.output


def test_a_short_row_says_it_is_short_not_empty(tmp_path: Path) -> None:
    src = tmp_path / "ragged.csv"
    src.write_text(f'id,title,description\n1,CTO,"{CTO}"\n2,Only a title\n')
    out = tmp_path / "o.csv"
    result = invoke("score", str(src), "-o", str(out), "-q")
    assert result.exit_code == 3
    errors = [r["error"] for r in csv.DictReader(out.open(encoding="utf-8"))]
    assert errors == [
        "",
        "row has 2 field(s) but the header has 3, so column 'description' is missing "
        "(a lost delimiter or quote?); not scored",
    ]


def test_train_counts_one_line_as_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from classifier import cli_models

    def stop(*args: Any, **kw: Any) -> None:
        raise DataError("stopped before training")

    monkeypatch.setattr(cli_models, "train_with_labels", stop)
    labels = tmp_path / "one.csv"
    labels.write_text(f'text,label\n"{CTO}",CTO\n')
    result = invoke("train", "--labels", str(labels))
    assert f"Read 1 line from {labels}" in result.output
