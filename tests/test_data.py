"""helpers.data: verified offline lookup, clear errors, download only on request."""
import hashlib

import numpy as np
import pytest

from helpers import data


def test_shipped_subset_loads_and_is_stratified():
    (x_train, y_train), (x_test, y_test) = data.fashion_mnist()
    assert x_train.shape == (10000, 28, 28) and x_test.shape == (2000, 28, 28)
    assert x_train.dtype == np.uint8
    assert np.bincount(y_train).tolist() == [1000] * 10 and np.bincount(y_test).tolist() == [200] * 10


def test_every_packaged_file_is_found_and_verified():
    for name, entry in data.REGISTRY.items():
        if entry.local or entry.package:
            assert data.path(name).is_file()


def _fake_entry(monkeypatch, tmp_path, content: bytes, *, urls=()):
    entry = data.DataFile("test/file", "file.txt", hashlib.sha256(content).hexdigest(), "none", "test", urls=urls)
    monkeypatch.setitem(data.REGISTRY, "test/file", entry)
    monkeypatch.setenv("DLD_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DLD_ALLOW_DOWNLOAD", raising=False)
    return entry


def test_missing_file_gives_a_clear_error_and_no_download(monkeypatch, tmp_path):
    source = tmp_path / "served.txt"
    source.write_bytes(b"hello")
    _fake_entry(monkeypatch, tmp_path, b"hello", urls=(source.as_uri(),))
    with pytest.raises(data.DataUnavailable, match=r"(?s)Looked in:.*download=True"):
        data.path("test/file")
    assert not (tmp_path / "cache" / "file.txt").exists()


def test_download_on_request_is_verified_and_cached(monkeypatch, tmp_path):
    source = tmp_path / "served.txt"
    source.write_bytes(b"hello")
    _fake_entry(monkeypatch, tmp_path, b"hello", urls=(source.as_uri(),))
    got = data.path("test/file", download=True)
    assert got == tmp_path / "cache" / "file.txt" and got.read_bytes() == b"hello"
    assert data.path("test/file") == got  # now found in the cache, offline


def test_download_with_wrong_checksum_is_rejected_and_not_kept(monkeypatch, tmp_path):
    source = tmp_path / "served.txt"
    source.write_bytes(b"tampered")
    _fake_entry(monkeypatch, tmp_path, b"hello", urls=(source.as_uri(),))
    with pytest.raises(data.DataUnavailable, match="sha256"):
        data.path("test/file", download=True)
    assert list((tmp_path / "cache").iterdir()) == []


def test_corrupted_local_file_is_refused(monkeypatch, tmp_path):
    _fake_entry(monkeypatch, tmp_path, b"hello")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "file.txt").write_bytes(b"hellO")
    with pytest.raises(data.ChecksumMismatch, match="corrupted"):
        data.path("test/file")


def test_idx_round_trip_is_byte_reproducible(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    a, b = tmp_path / "a.gz", tmp_path / "b.gz"
    data.write_idx(a, array)
    data.write_idx(b, array)
    assert a.read_bytes() == b.read_bytes()
    assert np.array_equal(data.read_idx(a), array)


def test_unknown_name():
    with pytest.raises(KeyError, match="unknown dataset"):
        data.path("no/such")


def test_shipped_wordnet_lemmatises_offline_like_nltk(recwarn):
    lemmatizer = data.wordnet_lemmatizer()
    pairs = [("geese", "n", "goose"), ("flies", "v", "fly"), ("was", "v", "be"), ("better", "a", "good"),
             ("corpora", "n", "corpus"), ("running", "v", "run"), ("xyzzy", "n", "xyzzy")]
    assert [lemmatizer.lemmatize(word, pos) for word, pos, _ in pairs] == [lemma for *_, lemma in pairs]
    wn = data.wordnet()
    assert wn.get_version() == "3.0"
    assert "canine.n.02" in {s.name() for s in wn.synset("dog.n.01").hypernyms()}
    assert len(list(wn.all_synsets("n"))) == 82115  # WordNet 3.0's noun synsets
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_breast_cancer_codes_malignant_as_one_like_sklearns_data():
    from sklearn.datasets import load_breast_cancer

    X, y = data.breast_cancer()
    reference = load_breast_cancer()
    assert X.shape == (569, 30) and X.dtype == np.float64
    assert np.array_equal(X, reference.data)
    assert np.array_equal(y, (reference.target == 0).astype(int))  # sklearn: 0 = malignant
    assert y.sum() == 212


def test_digits_match_sklearns_loader():
    from sklearn.datasets import load_digits

    images, labels = data.digits()
    reference = load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float64
    assert np.array_equal(images, reference.images) and np.array_equal(labels, reference.target)


def test_wordnet_glosses_are_labelled_definitions_without_examples():
    texts, labels = data.wordnet_glosses()
    assert len(texts) == len(labels) == 8489 and np.bincount(labels).tolist() == [2963, 5526]
    assert len(set(texts)) == len(texts) and not any('"' in text for text in texts)
    assert "an abstract mental location" in texts[:5]  # noun.cognition comes first in data.noun
    animals, labels = data.wordnet_glosses(("noun.plant", "noun.animal"))
    assert set(labels.tolist()) == {0, 1} and len(animals) > 14_000
    with pytest.raises(ValueError, match="noun.x"):
        data.wordnet_glosses(("noun.x",))


def test_gloss_splits_are_disjoint_stratified_and_fixed():
    splits = data.gloss_splits()
    sizes = {name: len(texts) for name, (texts, _) in splits.items()}
    assert sizes == {"train": 5942, "val": 1273, "test": 1274}, sizes
    seen = [set(texts) for texts, _ in splits.values()]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
    for _, labels in splits.values():
        assert abs(labels.mean() - 5526 / 8489) < 0.01
    assert data.gloss_splits()["test"][0] == splits["test"][0]
