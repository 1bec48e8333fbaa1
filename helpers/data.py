"""Every dataset the course uses, found offline first and always verified by sha256.

Where a file is looked for, in order:

1. ``data/`` in this repository (small real subsets committed for offline use),
2. a package that ships it (gensim's test corpora, Matplotlib's sample data),
3. a known system location (Debian's ``dataset-fashion-mnist``: /usr/share/datasets/...),
4. the cache directory (``$DLD_CACHE`` or ``~/.cache/deep-learning-derived``),
5. a download, only when asked for (``download=True`` or ``DLD_ALLOW_DOWNLOAD=1``), with an
   HTTP status check and sha256 verification before the file is moved into the cache.

Nothing is downloaded in the default path: without the file you get a :class:`DataUnavailable`
that says where it was looked for and what to do.

    python -m helpers.data list        # what is registered and where each file was found
    python -m helpers.data rebuild     # rebuild the committed subsets from the full files
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


class DataUnavailable(FileNotFoundError):
    """A dataset file is not on this machine (and was not downloaded)."""


class ChecksumMismatch(ValueError):
    """A file's sha256 is not the registered one: corrupted, truncated or a different version."""


@dataclass(frozen=True)
class DataFile:
    name: str  # registry key, e.g. "fashion-mnist/train-images"
    filename: str
    sha256: str
    license: str
    source: str  # human-readable provenance
    package: tuple[str, str] | None = None  # (importable package, path inside it)
    system_dirs: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    local: bool = False  # committed under data/


_FASHION_URL = "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/"
_FASHION_DIRS = ("/usr/share/datasets/fashion-mnist", "~/.keras/datasets/fashion-mnist")
_FASHION_LICENSE = "MIT (Zalando SE); Xiao, Rasul & Vollgraf, 2017"


def _fashion(name: str, filename: str, sha256: str) -> DataFile:
    return DataFile(
        f"fashion-mnist/{name}", filename, sha256, _FASHION_LICENSE,
        "Fashion-MNIST IDX files (Debian package dataset-fashion-mnist; same files Keras downloads)",
        system_dirs=_FASHION_DIRS, urls=(_FASHION_URL + filename,),
    )


def _gensim(filename: str, sha256: str, license: str, source: str) -> DataFile:
    return DataFile(
        f"gensim/{filename}", filename, sha256, license, source,
        package=("gensim", f"test/test_data/{filename}"),
    )


def _matplotlib(filename: str, sha256: str, source: str) -> DataFile:
    return DataFile(
        f"matplotlib/{filename}", filename, sha256, "Matplotlib sample data (PSF-style Matplotlib license)",
        source, package=("matplotlib", f"mpl-data/sample_data/{filename}"),
    )


def _sklearn(filename: str, sha256: str, license: str, source: str) -> DataFile:
    return DataFile(
        f"sklearn/{filename}", filename, sha256, license, source,
        package=("sklearn", f"datasets/data/{filename}"),
    )


REGISTRY: dict[str, DataFile] = {
    f.name: f
    for f in [
        _fashion("train-images", "train-images-idx3-ubyte.gz", "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
        _fashion("train-labels", "train-labels-idx1-ubyte.gz", "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
        _fashion("test-images", "t10k-images-idx3-ubyte.gz", "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
        _fashion("test-labels", "t10k-labels-idx1-ubyte.gz", "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
        *[
            DataFile(
                f"fashion-mnist-subset/{key}", f"fashion-mnist-subset/{fname}", sha, _FASHION_LICENSE,
                "Stratified subset of Fashion-MNIST (first 1,000 train / 200 test images per class), "
                "built by `python -m helpers.data rebuild` from the four IDX files above",
                local=True,
            )
            for key, fname, sha in [
                ("train-images", "train-images-idx3-ubyte.gz", "1ecc7f90b9d150b40c359acf80cfec4990bfbcc1db9fe346f886d9e7fcae0000"),
                ("train-labels", "train-labels-idx1-ubyte.gz", "036b3a9440a684e6f8117e910b5dad249f9165250c2ae2341f2bfd8482381497"),
                ("test-images", "t10k-images-idx3-ubyte.gz", "e60ede7714c657ced2d723c33140572b5476b46df34b385a6e176b0757dc4318"),
                ("test-labels", "t10k-labels-idx1-ubyte.gz", "e6d25f5f3e85bb315a10172898c1c8f69ce52c4f9306c5821205c821bfca8847"),
            ]
        ],
        _gensim("lee_background.cor", "5d78d6dafd953bbf65797bef09a9ffb9ec430583381be705f8fd460000f370fb",
                "research corpus distributed with gensim (LGPL-2.1 package)",
                "Lee news corpus, 300 Australian news documents (Lee, Pincombe & Welsh, 2005)"),
        _gensim("lee.cor", "a878f9a58f6743c32985c56c2f2f75988386216b38a4023a01fd3bcf7884d93e",
                "research corpus distributed with gensim (LGPL-2.1 package)",
                "Lee news corpus, the 50 documents rated for similarity"),
        _gensim("questions-words.txt", "8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36",
                "Apache-2.0 (word2vec distribution)", "Google analogy test set (Mikolov et al., 2013)"),
        _gensim("wordsim353.tsv", "f92a022fc2537793a15bc3a8c162ebcd74990e033a228bb6388cb71e4c0b1e1d",
                "research data distributed with gensim", "WordSim-353 (Finkelstein et al., 2002)"),
        _gensim("simlex999.txt", "d5e0501971478a511430ee880bd0121e94ac701ba86d90544d83e6d2ba3db05d",
                "research data distributed with gensim", "SimLex-999 (Hill, Reichart & Korhonen, 2015)"),
        _matplotlib("Stocks.csv", "ef6f3bf1a64d5c6c5de702ef154c3fae78fe9df83882ab6bb9c6638bec3cdf47",
                    "Monthly adjusted closing prices 1990-2021 of ten tickers (Yahoo Finance)"),
        _matplotlib("goog.npz", "400917cf30e6b664f7b0da93d7c745860d3aa9008da8b7f160d2dd12e6a318b1",
                    "Daily GOOG prices 2004-2008 (Yahoo Finance)"),
    ]
}


def cache_dir() -> Path:
    return Path(os.environ.get("DLD_CACHE", "~/.cache/deep-learning-derived")).expanduser()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _candidates(entry: DataFile) -> list[Path]:
    places: list[Path] = []
    if entry.local:
        places.append(DATA / entry.filename)
    if entry.package:
        package, inner = entry.package
        spec = importlib.util.find_spec(package)
        if spec and spec.origin:
            places.append(Path(spec.origin).parent / inner)
    places += [Path(d).expanduser() / entry.filename for d in entry.system_dirs]
    places.append(cache_dir() / entry.filename)
    return places


def path(name: str, *, download: bool | None = None) -> Path:
    """The verified local path of registered file ``name`` (see the module docstring)."""
    if name not in REGISTRY:
        raise KeyError(f"unknown dataset file {name!r}; known: {', '.join(sorted(REGISTRY))}")
    entry = REGISTRY[name]
    for candidate in _candidates(entry):
        if candidate.is_file():
            actual = sha256_of(candidate)
            if actual != entry.sha256:
                raise ChecksumMismatch(
                    f"{candidate} has sha256 {actual}, expected {entry.sha256} for {name}: the file is "
                    "corrupted, truncated or a different version. Delete it (or reinstall its package) and retry."
                )
            return candidate
    if download is None:
        download = os.environ.get("DLD_ALLOW_DOWNLOAD") == "1"
    if download and entry.urls:
        return _download(entry)
    looked = "\n  ".join(str(p) for p in _candidates(entry))
    how = (
        f"\nOnline, call helpers.data.path({name!r}, download=True) (or set DLD_ALLOW_DOWNLOAD=1) "
        "to download it with sha256 verification."
        if entry.urls
        else ""
    )
    if entry.system_dirs and "fashion" in name:
        how += "\nOn Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist"
    raise DataUnavailable(f"{entry.filename} ({entry.source}) was not found. Looked in:\n  {looked}{how}")


def _download(entry: DataFile) -> Path:
    target = cache_dir() / entry.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in entry.urls:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                status = getattr(response, "status", None)  # None for file:// URLs
                if status is not None and status != 200:
                    raise OSError(f"HTTP {status}")
                with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
                    shutil.copyfileobj(response, tmp)
            actual = sha256_of(Path(tmp.name))
            if actual != entry.sha256:
                os.unlink(tmp.name)
                raise ChecksumMismatch(f"downloaded sha256 {actual} != {entry.sha256}")
            os.replace(tmp.name, target)
            return target
        except (OSError, ChecksumMismatch) as error:
            errors.append(f"{url}: {error}")
    raise DataUnavailable(f"could not download {entry.filename}:\n  " + "\n  ".join(errors))


def read_idx(file: Path) -> np.ndarray:
    """An IDX file (optionally gzip-compressed) as a NumPy array (MNIST format)."""
    opener = gzip.open if str(file).endswith(".gz") else open
    with opener(file, "rb") as handle:
        raw = handle.read()
    if raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"{file} is not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def fashion_mnist(full: bool = False, *, download: bool | None = None):
    """Fashion-MNIST as ``(x_train, y_train), (x_test, y_test)``, uint8 images [n, 28, 28].

    By default the committed subset (10,000 train / 2,000 test, 1,000 / 200 per class);
    ``full=True`` reads the 60,000 / 10,000 original files (system package, cache or download).
    """
    prefix = "fashion-mnist" if full else "fashion-mnist-subset"
    part = {key: read_idx(path(f"{prefix}/{key}", download=download)) for key in
            ("train-images", "train-labels", "test-images", "test-labels")}
    return (part["train-images"], part["train-labels"]), (part["test-images"], part["test-labels"])


def text(name: str) -> str:
    """A registered text file (e.g. ``"gensim/lee_background.cor"``) as one string."""
    return path(name).read_text(encoding="utf-8", errors="replace")


def stratified_first(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first ``per_class`` examples of each class, in original order."""
    keep = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)])
    return np.sort(keep)


def write_idx(file: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzip-compressed IDX file, byte-for-byte reproducibly."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    file.parent.mkdir(parents=True, exist_ok=True)
    with open(file, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(header + array.tobytes())


def rebuild_subsets() -> list[Path]:
    """Rebuild data/fashion-mnist-subset/ from the full, verified IDX files, and
    data/wordnet-3.0.zip from Debian's wordnet-base where it is installed."""
    (x_train, y_train), (x_test, y_test) = fashion_mnist(full=True)
    train = stratified_first(y_train, 1000)
    test = stratified_first(y_test, 200)
    parts = {
        "train-images-idx3-ubyte.gz": x_train[train], "train-labels-idx1-ubyte.gz": y_train[train],
        "t10k-images-idx3-ubyte.gz": x_test[test], "t10k-labels-idx1-ubyte.gz": y_test[test],
    }
    written = [build_wordnet_zip(DATA / "wordnet-3.0.zip")] if Path(_WORDNET_DEBIAN).is_dir() else []
    for fname, array in parts.items():
        target = DATA / "fashion-mnist-subset" / fname
        write_idx(target, array)
        written.append(target)
    return written


# --------------------------------------------------------------------------- diabetes (chapter 03)
_DIABETES_LICENSE = "BSD-3-Clause (scikit-learn); data of Efron, Hastie, Johnstone & Tibshirani, 2004"
REGISTRY.update({
    f"sklearn/{fname}": _sklearn(
        fname, sha, _DIABETES_LICENSE,
        "Diabetes data bundled with scikit-learn (442 patients; Least Angle Regression, 2004)")
    for fname, sha in [
        ("diabetes_data_raw.csv.gz", "7fc0ded571454b1982210d3bb43f0aca44eae01a0b8654a3b24022bdb6b38009"),
        ("diabetes_target.csv.gz", "8e53f65eb811df43c206f3534bb3af0e5fed213bc37ed6ba36310157d6023803"),
    ]
})
DIABETES_FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


def diabetes() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's diabetes data in raw units: features [442, 10] (``DIABETES_FEATURES``)
    and the target [442], a measure of disease progression one year after baseline."""
    X = np.loadtxt(path("sklearn/diabetes_data_raw.csv.gz"))
    y = np.loadtxt(path("sklearn/diabetes_target.csv.gz"))
    return X.astype(np.float64), y.astype(np.float64)


def goog_prices() -> dict[str, np.ndarray]:
    """Matplotlib's daily GOOG prices (2004-08-19 … 2008-10-14) as columns, oldest day first.

    Keys: date (datetime64[D]), open, high, low, close, adj_close (float64), volume (int64).
    The rows are sorted by date here, so code that splits them by position splits by time.
    """
    with np.load(path("matplotlib/goog.npz")) as archive:
        table = archive["price_data"]
    table = table[np.argsort(table["date"], kind="stable")]
    return {name: np.asarray(table[name]) for name in table.dtype.names}


# --------------------------------------------------------------------------- WordNet (chapter 09)
# WordNet 3.0's dictionary in the layout NLTK's WordNetCorpusReader reads, zipped under data/.
# Built from Debian's wordnet-base package; lexnames (the 45 lexicographer files, fixed by the
# WordNet 3.0 documentation, lexnames(5WN)) is written from the table below.
_WORDNET_DEBIAN = "/usr/share/wordnet"
_WORDNET_LICENSE = "WordNet 3.0 license (Princeton University; redistribution with the notice)"
_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
REGISTRY["wordnet"] = DataFile(
    "wordnet", "wordnet-3.0.zip", "af16ebe4a0c3f0c5d1d288cd15d9511903d843ab04df11da809bad5c8e27c06d", _WORDNET_LICENSE,
    "WordNet 3.0 (Miller, 1995; Fellbaum, 1998) dictionary files for NLTK, built by "
    "`python -m helpers.data rebuild` from Debian's wordnet-base",
    local=True,
)


def build_wordnet_zip(target: Path, source: str = _WORDNET_DEBIAN) -> Path:
    """Zip WordNet's dictionary files (plus lexnames and the license) reproducibly for NLTK."""
    import zipfile

    parts = [f"{kind}.{pos}" for kind in ("data", "index") for pos in ("adj", "adv", "noun", "verb")]
    parts += [f"{pos}.exc" for pos in ("adj", "adv", "noun", "verb")]
    files = {name: Path(source, name).read_bytes() for name in parts}
    category = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
    files["lexnames"] = "".join(
        f"{i:02d}\t{name}\t{category[name.split('.')[0]]}\n" for i, name in enumerate(_LEXNAMES)
    ).encode()
    copyright_text = Path("/usr/share/doc/wordnet-base/copyright").read_text(encoding="utf-8")
    files["LICENSE"] = copyright_text[copyright_text.index("License: WordNet3.0"):].encode()
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as archive:
        for name in ["", *sorted(files)]:
            info = zipfile.ZipInfo(f"wordnet/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files.get(name, b""), compresslevel=9)
    return target


def wordnet():
    """NLTK's WordNet reader over the shipped WordNet 3.0 (no ``nltk.download`` needed).

    The Debian dictionary has no ``index.sense``, so sense-key lookups (``lemma_from_key``) and
    the Open Multilingual WordNet mapping are unavailable; synsets, relations and ``morphy`` work.
    """
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    from nltk.data import ZipFilePathPointer

    zipped = path("wordnet")
    if str(zipped.parent) not in nltk.data.path:
        nltk.data.path.append(str(zipped.parent))  # NLTK reads only from its authorised data roots

    class OfflineWordNet(WordNetCorpusReader):
        def map_wn(self, version: str = "wordnet") -> None:  # needs index.sense; OMW only
            return None

    import warnings

    with warnings.catch_warnings():  # "multilingual functions are not available": expected, no OMW
        warnings.simplefilter("ignore", UserWarning)
        return OfflineWordNet(ZipFilePathPointer(str(zipped), "wordnet/"), None)


def wordnet_lemmatizer():
    """NLTK's ``WordNetLemmatizer`` (same rules and choice of lemma) over :func:`wordnet`."""
    from nltk.stem import WordNetLemmatizer

    reader = wordnet()

    class OfflineWordNetLemmatizer(WordNetLemmatizer):
        def _morphy(self, form: str, pos: str, check_exceptions: bool = True) -> list[str]:
            return reader._morphy(form, pos, check_exceptions)

    return OfflineWordNetLemmatizer()


def wordnet_glosses(fields: tuple[str, ...] = ("noun.cognition", "noun.communication")
                    ) -> tuple[list[str], np.ndarray]:
    """WordNet 3.0's noun definitions labelled by their lexicographer file (chapter 08's text task).

    Returns the definitions (quoted usage examples removed) of every noun synset filed under one
    of ``fields``, in the dictionary's order, and labels [n] (int64: the index of the field in
    ``fields``). A definition that occurs more than once is kept once, and dropped altogether when
    it occurs under two of the fields. Reads ``data.noun`` straight from the shipped zip (well
    under a second; NLTK's reader is not needed).
    """
    import re
    import zipfile

    with zipfile.ZipFile(path("wordnet")) as archive:
        lexnames = archive.read("wordnet/lexnames").decode("ascii").split()[1::3]
        lines = archive.read("wordnet/data.noun").decode("latin-1").splitlines()
    wanted = {name: label for label, name in enumerate(fields)}
    unknown = set(fields) - {name for name in lexnames if name.startswith("noun.")}
    if unknown:
        raise ValueError(f"not a noun lexicographer file: {sorted(unknown)}")
    found: dict[str, set[int]] = {}
    for line in lines:
        if line.startswith("  "):  # the license header
            continue
        field = lexnames[int(line.split(" ", 2)[1])]
        if field in wanted:
            gloss = re.sub(r'[;,]?\s*"[^"]*(?:"|$)', "", line.split(" | ", 1)[1]).strip(" ;")
            found.setdefault(gloss, set()).add(wanted[field])
    kept = [(gloss, labels.pop()) for gloss, labels in found.items() if len(labels) == 1 and gloss]
    return [gloss for gloss, _ in kept], np.array([label for _, label in kept], dtype=np.int64)


def gloss_splits(seed: int = 0) -> dict[str, tuple[list[str], np.ndarray]]:
    """:func:`wordnet_glosses`' default task split into "train" (70 %), "val" (15 %) and "test"
    (15 %), stratified by label and fixed by ``seed``; chapters 08 and 10 use the same split."""
    from sklearn.model_selection import train_test_split

    texts, labels = wordnet_glosses()
    index = np.arange(len(texts))
    train, rest = train_test_split(index, test_size=0.3, stratify=labels, random_state=seed)
    val, test = train_test_split(rest, test_size=0.5, stratify=labels[rest], random_state=seed)
    return {name: ([texts[i] for i in part], labels[part]) for name, part in
            (("train", train), ("val", val), ("test", test))}


# --------------------------------------------------------------------------- breast cancer (chapter 04)
REGISTRY["sklearn/breast_cancer.csv"] = _sklearn(
    "breast_cancer.csv", "fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed",
    "BSD-3-Clause (scikit-learn); UCI Breast Cancer Wisconsin (Diagnostic), CC BY 4.0",
    "Breast Cancer Wisconsin (Diagnostic) data bundled with scikit-learn: 569 tumours, 30 features "
    "(Street, Wolberg & Mangasarian, 1993)",
)


def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's breast cancer data: features [569, 30] (float64) and labels [569] with
    **1 = malignant** (the rarer class, 212 of 569) and 0 = benign. (scikit-learn's own loader
    codes malignant as 0; here the positive class is the one a screening test looks for.)"""
    table = np.loadtxt(path("sklearn/breast_cancer.csv"), delimiter=",", skiprows=1)
    return table[:, :-1].astype(np.float64), (table[:, -1] == 0).astype(np.int64)




# --------------------------------------------------------------------------- digits (chapter 13)
REGISTRY["sklearn/digits.csv.gz"] = _sklearn(
    "digits.csv.gz", "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22",
    "BSD-3-Clause (scikit-learn); UCI Optical Recognition of Handwritten Digits, CC BY 4.0",
    "Handwritten digits bundled with scikit-learn: 1,797 images of 8 × 8 pixels, 16 grey levels "
    "(Alpaydin & Kaynak, 1998)",
)


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's handwritten digits: images [1797, 8, 8] (float64, values 0…16) and labels
    [1797] (int64, 0…9), in the file's order."""
    table = np.loadtxt(path("sklearn/digits.csv.gz"), delimiter=",")
    return table[:, :-1].reshape(-1, 8, 8).astype(np.float64), table[:, -1].astype(np.int64)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "list"
    if command == "list":
        for name, entry in REGISTRY.items():
            try:
                where = str(path(name, download=False))
            except (DataUnavailable, ChecksumMismatch) as error:
                where = f"MISSING ({type(error).__name__})"
            print(f"{name:32s} {where}")
        return 0
    if command == "rebuild":
        for target in rebuild_subsets():
            print(f"wrote {target.relative_to(ROOT)} sha256 {sha256_of(target)}")
        return 0
    print("usage: python -m helpers.data [list|rebuild]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
