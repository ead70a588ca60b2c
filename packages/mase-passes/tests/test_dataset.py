"""The committed WordNet gloss CSVs against their source file (when wordnet-base is installed)."""

import collections
from pathlib import Path

import pytest

from mase_passes.workloads.minilm import load_dataset, load_holdout, load_unlabeled

SOURCE = Path("/usr/share/wordnet/data.noun")
LEXFILE = {"act": 4, "animal": 5, "artifact": 6, "body": 8, "communication": 10, "food": 13,
           "location": 15, "person": 18, "plant": 20, "state": 26}


def test_split_sizes_and_classes():
    train, test, classes = load_dataset()
    assert classes == sorted(LEXFILE)
    assert collections.Counter(train.labels) == {i: 200 for i in range(10)}
    assert collections.Counter(test.labels) == {i: 100 for i in range(10)}
    assert not set(train.texts) & set(test.texts)


def test_holdout_is_1000_per_class_and_shares_no_gloss_with_train_test_or_unlabeled():
    train, test, classes = load_dataset()
    holdout = load_holdout(classes)
    assert collections.Counter(holdout.labels) == {i: 1000 for i in range(10)}
    assert len(set(holdout.texts)) == 10000
    assert not set(holdout.texts) & (set(train.texts) | set(test.texts) | set(load_unlabeled().texts))


def test_holdout_with_a_class_list_missing_one_of_its_labels_is_refused():
    _, _, classes = load_dataset()
    with pytest.raises(ValueError, match=r"labels \['state'\] are not among"):
        load_holdout(classes[:-1])


@pytest.mark.skipif(not SOURCE.is_file(), reason="Debian wordnet-base not installed")
def test_every_row_is_its_synsets_gloss_in_its_lexicographer_file():
    import csv
    from importlib import resources

    synsets = {}
    for line in SOURCE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("  "):
            synsets[line[:8]] = line
    offsets = []
    for name in ("wordnet_glosses.csv", "wordnet_holdout_glosses.csv"):
        text = (resources.files("mase_passes") / "data" / name).read_text()
        assert f"# source: {SOURCE}" in text
        rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
        for r in rows:
            line = synsets[r["synset_offset"]]
            assert int(line.split()[1]) == LEXFILE[r["label"]]
            assert r["gloss"] in line.partition("|")[2]
        offsets.append({r["synset_offset"] for r in rows})
    assert not offsets[0] & offsets[1]


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
