"""`make crossval --by-file` holds out each writer's file whole; the default folds draw from all."""
import sys
from pathlib import Path

import pytest
from rasa.shared.importers.rasa import RasaFileImporter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from crossval import ROOT, folds, source_files  # noqa: E402


@pytest.fixture(scope="module")
def examples():
    data = RasaFileImporter(training_data_paths=[str(ROOT / "nlu_data")]).get_nlu_data()
    return [m for m in data.intent_examples if m.get("text")]


def files_split_across_folds(examples, files, by_file: bool) -> int:
    """How many files have examples on both sides of some fold."""
    split = set()
    for train, test in folds(examples, 5, files if by_file else None):
        split |= {files[i] for i in train} & {files[i] for i in test}
    return len(split)


@pytest.fixture(scope="module")
def files(examples):
    return source_files(examples)


def test_every_example_is_traced_to_its_file(files):
    assert "" not in files
    assert len(set(files)) >= 10 and all(f.startswith("nlu_data/") and f.endswith(".yml") for f in files)


def test_a_file_held_out_is_held_out_whole(examples, files):
    assert files_split_across_folds(examples, files, by_file=True) == 0
    assert files_split_across_folds(examples, files, by_file=False) > 0
