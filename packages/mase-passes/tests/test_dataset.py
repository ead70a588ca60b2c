"""The committed WordNet gloss CSV against its source file (when wordnet-base is installed)."""

import collections
from pathlib import Path

import pytest

from mase_passes.workloads.minilm import load_dataset, load_unlabeled

SOURCE = Path("/usr/share/wordnet/data.noun")
LEXFILE = {"act": 4, "animal": 5, "artifact": 6, "body": 8, "communication": 10, "food": 13,
           "location": 15, "person": 18, "plant": 20, "state": 26}


def test_split_sizes_and_classes():
    train, test, classes = load_dataset()
    assert classes == sorted(LEXFILE)
    assert collections.Counter(train.labels) == {i: 200 for i in range(10)}
    assert collections.Counter(test.labels) == {i: 100 for i in range(10)}
    assert not set(train.texts) & set(test.texts)


@pytest.mark.skipif(not SOURCE.is_file(), reason="Debian wordnet-base not installed")
def test_every_row_is_its_synsets_gloss_in_its_lexicographer_file():
    import csv
    from importlib import resources

    text = (resources.files("mase_passes") / "data" / "wordnet_glosses.csv").read_text()
    assert f"# source: {SOURCE}" in text
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    synsets = {}
    for line in SOURCE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("  "):
            synsets[line[:8]] = line
    for r in rows:
        line = synsets[r["synset_offset"]]
        assert int(line.split()[1]) == LEXFILE[r["label"]]
        assert r["gloss"] in line.partition("|")[2]


@pytest.mark.skipif(not SOURCE.is_file(), reason="Debian wordnet-base not installed")
def test_unlabeled_glosses_come_from_the_other_lexicographer_files_and_share_no_text_with_the_task():
    import csv
    from importlib import resources

    text = (resources.files("mase_passes") / "data" / "wordnet_unlabeled_glosses.csv").read_text()
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    synsets = {line[:8]: line for line in SOURCE.read_text(encoding="utf-8").splitlines() if not line.startswith("  ")}
    for r in rows:
        line = synsets[r["synset_offset"]]
        assert int(line.split()[1]) not in LEXFILE.values()
        assert r["gloss"] in line.partition("|")[2]
    unlabeled = load_unlabeled()
    train, test, _ = load_dataset()
    assert len(unlabeled.texts) == len(rows) == len(set(unlabeled.texts)) == 6000
    assert not set(unlabeled.texts) & (set(train.texts) | set(test.texts))
    assert set(unlabeled.labels) == {-1}
