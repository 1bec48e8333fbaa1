"""Checks for chapter 09 (text processing and word embeddings)."""
from __future__ import annotations

import re

import numpy as np

from helpers import tensorflow
from helpers.checks import as_array, assert_close, call, exercise, fail, random_inputs, require, unpack

# --------------------------------------------------------------------------- 9.1 preprocessing
_TEXTS = [
    "This is NOT the stemming we were looking for: runners were running, flies fly.",
    "The Australian Government says it will fight the bushfires across New South Wales.",
    "Generously, FAIRLY and happily... 42 universities' organisations argued (again)!",
    # the order matters twice here: 'this' stems to 'thi' (not a stop word), while 'called', 'fires',
    # 'detailed' and 'finding' are not stop words but stem to ones ('call', 'fire', 'detail', 'find')
    "Crews called in more fires this week; the police detailed what they were finding.",
    "",
]


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _pipeline(text: str, *, lower: bool = True, stop: bool = True, stem: str = "porter",
              stem_first: bool = False, stop_again: bool = False) -> list[str]:
    from nltk.stem import PorterStemmer, SnowballStemmer
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    tokens = re.findall(r"[a-z]+", text.lower()) if lower else re.findall(r"[A-Za-z]+", text)
    stemmer = PorterStemmer() if stem == "porter" else SnowballStemmer("english")
    if stem_first:
        tokens = [stemmer.stem(t) for t in tokens]
        return [t for t in tokens if not stop or t not in ENGLISH_STOP_WORDS]
    tokens = [t for t in tokens if not stop or t not in ENGLISH_STOP_WORDS]
    stems = [stemmer.stem(t) if stem else t for t in tokens]
    return [t for t in stems if t not in ENGLISH_STOP_WORDS] if stop_again else stems


@exercise("9.1", "a preprocessing pipeline", "tokens lower-cased, stop words removed, Porter stems as specified")
def ex_9_1(preprocess) -> None:
    # Import NLTK and scikit-learn here, outside the time limit: their first import can take longer
    # than the limit on a busy machine, and an import interrupted by it leaves NLTK half-loaded.
    _pipeline("")
    for text in _TEXTS:
        out = call(preprocess, text, name="preprocess")
        if out is None:
            fail("preprocess returned None — did it forget to `return` the list of stems?")
        if isinstance(out, str) or not isinstance(out, (list, tuple)):
            fail(f"preprocess should return a list of strings, got {type(out).__name__}.")
        if not all(isinstance(t, str) for t in out):
            fail("preprocess should return a list of strings (one stem per token).")
        out = list(out)
        expected = _pipeline(text)
        if out == expected:
            continue
        label = f"preprocess({text!r})"
        if out == _pipeline(text, stop=False):
            fail(f"{label}: the stop words are still there — drop every token in ENGLISH_STOP_WORDS.")
        if out == _pipeline(text, stem=""):
            fail(f"{label}: the tokens are not stemmed — apply PorterStemmer().stem to each kept token.")
        if out == _pipeline(text, stop_again=True):
            fail(f"{label}: you removed stop words again after stemming, so words such as 'fires' (stem "
                 "'fire', which is on the stop list) disappeared — filter the tokens once, before stemming.")
        if out == _pipeline(text, stem_first=True):
            fail(f"{label}: you stemmed before removing stop words, so 'this' became 'thi' and slipped "
                 "through the stop list — filter first, then stem.")
        if out == _pipeline(text, lower=False) or any(t != t.lower() for t in out):
            fail(f"{label}: tokens are not lower-cased — fold case before tokenising and filtering.")
        if out == _pipeline(text, stem="snowball"):
            fail(f"{label}: these are Snowball stems — the exercise asks for PorterStemmer.")
        missing = [t for t in expected if t not in out][:3]
        extra = [t for t in out if t not in expected][:3]
        fail(f"{label}: expected {len(expected)} stems, got {len(out)}; missing {missing}, unexpected {extra} "
             "(tokens are runs of letters a–z after lower-casing).")


# --------------------------------------------------------------------------- 9.2 TF-IDF
def _tfidf_case(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(12)]
    docs = [" ".join(rng.choice(words, size=rng.integers(3, 15), p=np.arange(12, 0, -1) / 78)) for _ in range(7)]
    counts = CountVectorizer(token_pattern=r"\S+").fit_transform(docs).toarray().astype(np.float64)
    smooth = TfidfVectorizer(token_pattern=r"\S+", smooth_idf=True).fit_transform(docs).toarray()
    plain = TfidfVectorizer(token_pattern=r"\S+", smooth_idf=False).fit_transform(docs).toarray()
    return counts, smooth, plain


def _l2(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@exercise("9.2", "TF-IDF by hand", "TF-IDF with smoothed idf and L2 rows matches scikit-learn's TfidfVectorizer")
def ex_9_2(tfidf) -> None:
    for seed in (0, 1, 2):
        counts, expected, unsmoothed = _tfidf_case(seed)
        out = call(tfidf, counts.copy(), name="tfidf")
        n, df = counts.shape[0], (counts > 0).sum(axis=0)
        idf = np.log((1 + n) / (1 + df)) + 1
        hints = [
            (unsmoothed, "this is the unsmoothed idf ln(n/df) + 1 — the smoothed one is ln((1+n)/(1+df)) + 1."),
            (_l2(counts * np.log(n / df)), "idf = ln(n/df) is unsmoothed and lacks the + 1 — use ln((1+n)/(1+df)) + 1."),
            (_l2(counts * np.log((1 + n) / (1 + df))), "the + 1 after the logarithm is missing: terms in every document would get weight 0."),
            (counts * idf, "the rows are not L2-normalised — divide each row by its Euclidean norm."),
            (_l2(counts * (np.log10((1 + n) / (1 + df)) + 1)), "scikit-learn uses the natural logarithm, not log10."),
            (_l2(counts * (np.log((1 + n) / (1 + counts.sum(axis=0))) + 1)),
             "df(t) is the number of documents that contain t (count the non-zero entries of each column), "
             "not the total number of occurrences."),
            ((counts * idf) / np.abs(counts * idf).sum(axis=1, keepdims=True),
             "these rows are L1-normalised (they sum to 1) — TfidfVectorizer divides by the Euclidean (L2) norm."),
        ]
        assert_close(out, expected, f"tfidf(counts, seed {seed})", rtol=1e-6, atol=1e-9, hints=hints,
                     index_names=["document", "term"])


# --------------------------------------------------------------------------- 9.3 cosine similarity
@exercise("9.3", "cosine similarity matrix", "cosine similarities match sklearn.metrics.pairwise.cosine_similarity")
def ex_9_3(cosine_matrix) -> None:
    from sklearn.metrics.pairwise import cosine_similarity

    rng = np.random.default_rng(3)
    for n_a, n_b, d in [(4, 5, 3), (6, 6, 8), (1, 3, 5)]:
        a = rng.standard_normal((n_a, d)) * rng.uniform(0.2, 5.0, (n_a, 1))
        b = rng.standard_normal((n_b, d)) * rng.uniform(0.2, 5.0, (n_b, 1))
        out = call(cosine_matrix, a.copy(), b.copy(), name="cosine_matrix")
        hints = [
            (a @ b.T, "these are plain dot products — divide by the norms ‖a‖·‖b‖ (normalise the rows first)."),
            (a @ b.T / np.linalg.norm(a, axis=1, keepdims=True), "only the rows of A were normalised — normalise B's rows too."),
            (a @ b.T / np.linalg.norm(b, axis=1), "only the rows of B were normalised — normalise A's rows too."),
            (a @ b.T / (np.linalg.norm(a) * np.linalg.norm(b)), "you divided by the norms of the whole matrices — use each row's own norm."),
        ]
        assert_close(out, cosine_similarity(a, b), f"cosine_matrix(A {a.shape}, B {b.shape})",
                     rtol=1e-6, atol=1e-9, hints=hints, index_names=["row of A", "row of B"])


# --------------------------------------------------------------------------- 9.4 negative sampling
def _ns_autodiff(h: np.ndarray, v_pos: np.ndarray, v_neg: np.ndarray):
    tf = tensorflow()
    th, tp, tn = (tf.Variable(x) for x in (h, v_pos, v_neg))
    with tf.GradientTape() as tape:
        loss = -tf.math.log_sigmoid(tf.reduce_sum(tp * th)) - tf.reduce_sum(tf.math.log_sigmoid(-tf.linalg.matvec(tn, th)))
    grads = tape.gradient(loss, [th, tp, tn])
    return float(loss.numpy()), *(g.numpy() for g in grads)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@exercise("9.4", "negative-sampling loss and gradients",
          "negative-sampling loss and its gradients match tf.GradientTape")
def ex_9_4(ns_loss_and_grads) -> None:
    for seed, (d, k) in enumerate([(4, 3), (10, 5), (6, 1)]):
        h, v_pos, v_neg = random_inputs(10 + seed, (d,), (d,), (k, d))
        out = call(ns_loss_and_grads, h.copy(), v_pos.copy(), v_neg.copy(), name="ns_loss_and_grads")
        loss, g_h, g_pos, g_neg = unpack(out, "ns_loss_and_grads", ["loss", "grad_h", "grad_pos", "grad_neg"])
        e_loss, e_h, e_pos, e_neg = _ns_autodiff(h, v_pos, v_neg)
        s_pos, s_neg = _sigmoid(v_pos @ h), _sigmoid(v_neg @ h)
        case = f"(d={d}, K={k})"
        assert_close(loss, e_loss, f"loss {case}", rtol=1e-7, atol=1e-10, hints=[
            (-e_loss, "this is the objective log σ(v'ᵀh) + Σ log σ(−v'ₖᵀh); the loss to minimise is its negative."),
            (-np.log(s_pos) - np.sum(np.log(s_neg)), "the noise term must be log σ(−v'ₖᵀh), with the minus sign inside σ."),
            (-np.log(s_pos) - np.mean(np.log(1 - s_neg)), "the K noise terms are summed, not averaged: Σₖ log σ(−v'ₖᵀh)."),
        ], factors={"1/(K + 1)": 1 / (k + 1)})
        flipped = "the sign of the negative-sample term is flipped: ∂/∂x log σ(−x) = −σ(x), so the loss gradient has +σ(v'ₖᵀh)."
        assert_close(g_pos, e_pos, f"grad_pos {case}", rtol=1e-7, atol=1e-10, hints=[
            (s_pos * h, "the positive-word gradient is (σ(v'ᵀh) − 1)·h: the − 1 comes from ∂/∂x log σ(x) = 1 − σ(x)."),
            ((1 - s_pos) * h, "sign flipped: this is the gradient of the objective, not of the loss (−objective)."),
        ])
        assert_close(g_neg, e_neg, f"grad_neg {case}", rtol=1e-7, atol=1e-10, hints=[
            (-s_neg[:, None] * h, flipped),
            ((s_neg[:, None] - 1) * h, "the noise words are not targets: their gradient is σ(v'ₖᵀh)·h, without − 1."),
        ], index_names=["noise word", "component"])
        assert_close(g_h, e_h, f"grad_h {case}", rtol=1e-7, atol=1e-10, hints=[
            ((s_pos - 1) * v_pos - s_neg @ v_neg, flipped),
            ((s_pos - 1) * v_pos, "the noise words' contribution Σₖ σ(v'ₖᵀh)·v'ₖ is missing."),
            ((s_pos - 1) * v_pos + s_neg @ v_neg / k, "the noise words' contributions σ(v'ₖᵀh)·v'ₖ are summed over k, not averaged."),
            ((s_pos - 1) * v_pos + s_neg[0] * v_neg[0], "only the first noise word contributes — grad_h needs Σₖ σ(v'ₖᵀh)·v'ₖ over all K."),
        ])


# --------------------------------------------------------------------------- 9.5 noise distribution
@exercise("9.5", "the unigram^(3/4) noise distribution", "noise distribution is the normalised unigram^(3/4)")
def ex_9_5(noise_distribution) -> None:
    cases = [np.array([100.0, 10.0, 1.0, 1.0, 50.0]), np.arange(1.0, 21.0) ** 2, np.array([7.0])]
    for counts in cases:
        out = call(noise_distribution, counts.copy(), name="noise_distribution")
        label = f"noise_distribution(counts of {counts.size} words)"
        p = as_array(out, label, counts.shape)
        require(np.all(p >= 0), f"{label} has negative probabilities.")
        expected = counts ** 0.75 / np.sum(counts ** 0.75)
        # `out` as returned: a float32 answer is compared at float32 precision
        assert_close(out, expected, label, rtol=1e-9, atol=1e-12, hints=[
            (counts / counts.sum(), "this is the plain unigram distribution — raise the counts to the power 3/4 before normalising."),
            (counts ** 0.75, "the values do not sum to 1 — divide by Σ count^(3/4)."),
            ((counts / counts.sum()) ** 0.75, "normalise after raising to the power 3/4 (these do not sum to 1)."),
            (counts ** (4 / 3) / np.sum(counts ** (4 / 3)), "the power is 3/4 = 0.75, not 4/3."),
        ])
    out = call(noise_distribution, np.array([9.0, 1.0]), name="noise_distribution")
    assert_close(out, [9 ** 0.75 / (1 + 9 ** 0.75), 1 / (1 + 9 ** 0.75)], "noise_distribution([9, 1])",
                 rtol=1e-9, atol=1e-12, hints=[([0.9, 0.1], "this is the plain unigram distribution: the rare word "
                                                            "should get 1/(1 + 9^0.75) ≈ 0.16, not 0.1.")])


# --------------------------------------------------------------------------- 9.6 analogies
def _unit(e: np.ndarray) -> np.ndarray:
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def _synthetic_vectors(seed: int = 5) -> tuple[np.ndarray, list[str]]:
    """Vectors whose norms vary a lot, so forgetting to normalise changes the answers."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((60, 8)) * np.exp(rng.normal(0, 1.0, (60, 1)))
    return e, [f"word{i}" for i in range(60)]


def _oracle(e: np.ndarray, words: list[str], a: str, b: str, c: str) -> str:
    from gensim.models import KeyedVectors

    kv = KeyedVectors(e.shape[1], dtype=np.float64)
    kv.add_vectors(words, e)
    return kv.most_similar(positive=[b, c], negative=[a], topn=1)[0][0]


def _unnormalised(e: np.ndarray, words: list[str], a: str, b: str, c: str) -> str:
    index = {w: i for i, w in enumerate(words)}
    scores = e @ (e[index[b]] - e[index[a]] + e[index[c]])
    scores[[index[a], index[b], index[c]]] = -np.inf
    return words[int(np.argmax(scores))]


def _queries(words: list[str], n: int, seed: int) -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(seed)
    return [tuple(str(w) for w in rng.choice(words[:200], 3, replace=False)) for _ in range(n)]


@exercise("9.6", "an analogy solver", "analogy answers match gensim's most_similar(positive=[b, c], negative=[a])")
def ex_9_6(analogy, vectors=None) -> None:
    cases = []
    if vectors is not None:
        e = np.asarray(getattr(vectors, "vectors", vectors), dtype=np.float64)
        words = list(getattr(vectors, "index_to_key", []))
        require(len(words) == len(e) and e.ndim == 2, "pass the trained KeyedVectors (model.wv) as the second argument.")
        cases.append(("trained vectors", e, words, _queries(words, 8, 0)))
    e, words = _synthetic_vectors()
    cases.append(("test vectors with unequal norms", e, words, _queries(words, 25, 1)))
    for label, e, words, queries in cases:
        wrong_norm = 0
        for a, b, c in queries:
            out = call(analogy, e.copy(), list(words), a, b, c, name="analogy")
            if not isinstance(out, str):
                fail(f"analogy should return the answer word as a string, got {type(out).__name__}.")
            expected = _oracle(e, words, a, b, c)
            if out == expected:
                continue
            if out in (a, b, c):
                fail(f"on {label}, analogy({a!r}, {b!r}, {c!r}) returned {out!r}, one of the query words — "
                     "exclude a, b and c from the candidates.")
            if out == _unnormalised(e, words, a, b, c):
                wrong_norm += 1
                continue
            fail(f"on {label}, {a} : {b} :: {c} : ? should be {expected!r}, got {out!r} — rank by cosine with "
                 "unit(b) − unit(a) + unit(c).")
        if wrong_norm:
            fail(f"on {label}, {wrong_norm} answers follow the raw dot product: cosine similarity needs unit-length "
                 "vectors — normalise every row (and the query) before comparing.")


# --------------------------------------------------------------------------- 9.7 Keras Embedding
@exercise("9.7", "a Keras Embedding from trained vectors",
          "frozen keras.layers.Embedding returns the trained vectors for every id")
def ex_9_7(embedding_from_vectors) -> None:
    tensorflow()
    import keras

    e = random_inputs(7, (30, 6))[0].astype(np.float32)
    layer = call(embedding_from_vectors, e.copy(), name="embedding_from_vectors")
    if not isinstance(layer, keras.layers.Embedding):
        fail(f"embedding_from_vectors should return a keras.layers.Embedding, got {type(layer).__name__}.")
    require(layer.input_dim == 30 and layer.output_dim == 6,
            f"the layer maps {layer.input_dim} ids to {layer.output_dim}-vectors; expected 30 ids to 6-vectors "
            "(input_dim = vocabulary size = rows of the matrix, output_dim = its columns) — transposed?")
    ids = np.array([[0, 5, 29], [3, 3, 1]])
    out = call(layer, ids, name="the layer")
    got = as_array(out, "layer(ids)", (2, 3, 6))
    if not np.allclose(got, e[ids], atol=1e-6):
        fail("layer(ids) does not return the given vectors — initialise with "
             "embeddings_initializer=keras.initializers.Constant(E) (or set_weights([E]) after building).")
    require(not layer.trainable and not layer.trainable_weights,
            "the layer is trainable: pass trainable=False so the pretrained vectors stay fixed.")
