"""`mase check` catches, before any work, what used to fail 10-20 s into a run with exit 1
(issue 18, item 7): exit 2 and the key or file named. Also library errors reading the data
(not UTF-8, csv's field limit) come back as config errors naming the file."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the tests run with --import-mode=importlib
from cli_models import bert_checkpoint, csv_dataset, llama_checkpoint, text_dataset, write_config  # noqa: E402

from mase_passes.cli.main import main  # noqa: E402


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return bert_checkpoint(tmp_path_factory.mktemp("bert") / "ckpt")


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return llama_checkpoint(tmp_path_factory.mktemp("llama") / "ckpt")


def _bert_cfg(tmp_path, bert, data=None):
    data = data or csv_dataset(tmp_path / "d.csv")
    return write_config(tmp_path / "run.toml", str(bert), str(data), str(tmp_path / "out"),
                        dataset={"text_column": "sentence"})


@pytest.mark.parametrize("override, named", [
    ("search.seed=-1", "[search] seed"),
    ("search.seed=4294967296", "[search] seed"),
    ("search.group_by='layer(\\\\d'", "[search] group_by"),
    ("dataset.max_length=33", "[dataset] max_length = 33 is more than the model's 32 positions"),
])
def test_check_refuses_values_that_failed_later(tmp_path, bert, capsys, override, named):
    cfg = _bert_cfg(tmp_path, bert)
    assert main(["check", str(cfg), "--set", override]) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err


def test_an_output_path_that_is_a_file_names_the_key(tmp_path, bert, capsys):
    cfg = _bert_cfg(tmp_path, bert)
    (tmp_path / "taken").write_text("x")
    assert main(["check", str(cfg), "--out", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err
    assert "[output] dir" in err and "is a file, not a folder" in err


@pytest.mark.parametrize("content, named", [
    (b"", "empty text file"),
    (b"   \n\n", "empty text file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
    (b"caf\xe9 au lait " * 20, "not UTF-8 text (byte 3"),
])
def test_check_refuses_text_data_a_language_model_cannot_read(tmp_path, llama, capsys, content, named):
    data = tmp_path / "d.txt"
    data.write_bytes(content)
    cfg = write_config(tmp_path / "run.toml", str(llama), str(data), str(tmp_path / "out"))
    assert main(["check", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert named in err and str(data) in err and "Traceback" not in err


def test_good_text_data_passes(tmp_path, llama, capsys):
    cfg = write_config(tmp_path / "run.toml", str(llama), str(text_dataset(tmp_path / "d.txt")), str(tmp_path / "out"))
    assert main(["check", str(cfg)]) == 0


def test_a_csv_that_is_not_utf8_or_breaks_the_field_limit_is_named(tmp_path, bert, capsys):
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("split,sentence,label\ntest,caf\xe9,neg\n".encode("latin-1"))
    assert main(["check", str(_bert_cfg(tmp_path, bert, bad))]) == 2
    err = capsys.readouterr().err
    assert "latin1.csv: not UTF-8 text" in err and "Traceback" not in err
    huge = tmp_path / "huge.csv"
    huge.write_text('split,sentence,label\ntest,"' + "a" * 200_000 + '",neg\n')
    assert main(["check", str(_bert_cfg(tmp_path, bert, huge))]) == 2
    err = capsys.readouterr().err
    assert "huge.csv: not a readable CSV file (field larger than field limit" in err
