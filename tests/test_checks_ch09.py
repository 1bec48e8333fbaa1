"""Chapter 09 checks: the reference answers pass, realistic wrong answers get specific hints."""
import re

import numpy as np
import pytest

from conftest import check_tests


def preprocess(text):
    from nltk.stem import PorterStemmer
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    stemmer = PorterStemmer()
    return [stemmer.stem(t) for t in re.findall(r"[a-z]+", text.lower()) if t not in ENGLISH_STOP_WORDS]


def preprocess_stem_first(text):
    from nltk.stem import PorterStemmer
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    stemmer = PorterStemmer()
    return [s for s in (stemmer.stem(t) for t in re.findall(r"[a-z]+", text.lower())) if s not in ENGLISH_STOP_WORDS]


def preprocess_no_stop(text):
    from nltk.stem import PorterStemmer

    return [PorterStemmer().stem(t) for t in re.findall(r"[a-z]+", text.lower())]


def preprocess_no_stem(text):
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [t for t in re.findall(r"[a-z]+", text.lower()) if t not in ENGLISH_STOP_WORDS]


def preprocess_snowball(text):
    from nltk.stem import SnowballStemmer
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    stemmer = SnowballStemmer("english")
    return [stemmer.stem(t) for t in re.findall(r"[a-z]+", text.lower()) if t not in ENGLISH_STOP_WORDS]


def _tfidf(counts, smooth=True, normalise=True):
    n, df = counts.shape[0], (counts > 0).sum(axis=0)
    idf = np.log((1 + n) / (1 + df)) + 1 if smooth else np.log(n / df) + 1
    x = counts * idf
    return x / np.linalg.norm(x, axis=1, keepdims=True) if normalise else x


def tfidf(counts):
    return _tfidf(counts)


def _l2rows(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def cosine_matrix(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def _sig(x):
    return 1 / (1 + np.exp(-x))


def ns_loss_and_grads(h, v_pos, v_neg):
    s_pos, s_neg = _sig(v_pos @ h), _sig(v_neg @ h)
    loss = -np.log(s_pos) - np.sum(np.log(1 - s_neg))
    return loss, (s_pos - 1) * v_pos + s_neg @ v_neg, (s_pos - 1) * h, s_neg[:, None] * h


def ns_neg_sign_flipped(h, v_pos, v_neg):
    loss, g_h, g_pos, g_neg = ns_loss_and_grads(h, v_pos, v_neg)
    s_neg = _sig(v_neg @ h)
    return loss, (_sig(v_pos @ h) - 1) * v_pos - s_neg @ v_neg, g_pos, -s_neg[:, None] * h


def ns_grad_h_sign_flipped(h, v_pos, v_neg):
    loss, g_h, g_pos, g_neg = ns_loss_and_grads(h, v_pos, v_neg)
    return loss, (_sig(v_pos @ h) - 1) * v_pos - _sig(v_neg @ h) @ v_neg, g_pos, g_neg


def noise_distribution(counts, power=0.75):
    p = counts ** power
    return p / p.sum()


def analogy(E, words, a, b, c):
    U = E / np.linalg.norm(E, axis=1, keepdims=True)
    index = {w: i for i, w in enumerate(words)}
    q = U[index[b]] - U[index[a]] + U[index[c]]
    scores = U @ (q / np.linalg.norm(q))
    scores[[index[a], index[b], index[c]]] = -np.inf
    return words[int(np.argmax(scores))]


def analogy_unnormalised(E, words, a, b, c):
    index = {w: i for i, w in enumerate(words)}
    scores = E @ (E[index[b]] - E[index[a]] + E[index[c]])
    scores[[index[a], index[b], index[c]]] = -np.inf
    return words[int(np.argmax(scores))]


def analogy_no_exclusion(E, words, a, b, c):
    U = E / np.linalg.norm(E, axis=1, keepdims=True)
    index = {w: i for i, w in enumerate(words)}
    return words[int(np.argmax(U @ (U[index[b]] - U[index[a]] + U[index[c]])))]


def analogy_excluding_only_c(E, words, a, b, c):
    U = E / np.linalg.norm(E, axis=1, keepdims=True)
    index = {w: i for i, w in enumerate(words)}
    scores = U @ (U[index[b]] - U[index[a]] + U[index[c]])
    scores[index[c]] = -np.inf
    return words[int(np.argmax(scores))]


def _kv():
    from gensim.models import KeyedVectors

    rng = np.random.default_rng(0)
    kv = KeyedVectors(10)
    kv.add_vectors([f"t{i}" for i in range(300)], rng.standard_normal((300, 10)).astype(np.float32))
    return kv


KV = _kv()


def embedding_from_vectors(E):
    import keras

    return keras.layers.Embedding(E.shape[0], E.shape[1], embeddings_initializer=keras.initializers.Constant(E),
                                  trainable=False)


def embedding_trainable(E):
    import keras

    return keras.layers.Embedding(E.shape[0], E.shape[1], embeddings_initializer=keras.initializers.Constant(E))


def embedding_random(E):
    import keras

    return keras.layers.Embedding(E.shape[0], E.shape[1], trainable=False)


def embedding_transposed(E):
    import keras

    return keras.layers.Embedding(E.shape[1], E.shape[0], trainable=False)


REFERENCE = {
    "9.1": preprocess,
    "9.2": tfidf,
    "9.3": cosine_matrix,
    "9.4": ns_loss_and_grads,
    "9.5": noise_distribution,
    "9.6": (analogy, KV),
    "9.7": embedding_from_vectors,
}
WRONG = {
    "9.1": [
        (preprocess_stem_first, r"stemmed before removing stop words"),
        (preprocess_no_stop, r"stop words are still there"),
        (preprocess_no_stem, r"not stemmed"),
        (preprocess_snowball, r"Snowball"),
        (lambda text: [PorterStem for PorterStem in re.findall(r"[A-Za-z]+", text)], r"lower-cased|expected"),
        (lambda text: " ".join(preprocess(text)), r"list of strings"),
    ],
    "9.2": [
        (lambda c: _tfidf(c, smooth=False), r"unsmoothed idf"),
        (lambda c: _tfidf(c, normalise=False), r"not L2-normalised"),
        (lambda c: c / np.linalg.norm(c, axis=1, keepdims=True), r"not right"),
        (lambda c: _l2rows(c * np.log((1 + len(c)) / (1 + (c > 0).sum(axis=0)))), r"\+ 1 after the logarithm is missing"),
        (lambda c: _l2rows(c * np.log(len(c) / (c > 0).sum(axis=0))), r"unsmoothed and lacks the \+ 1"),
        (lambda c: _l2rows(c * (np.log((1 + len(c)) / (1 + c.sum(axis=0))) + 1)), r"number of documents"),
        (lambda c: (lambda w: w / w.sum(axis=1, keepdims=True))(_tfidf(c, normalise=False)), r"L1-normalised"),
    ],
    "9.3": [
        (lambda a, b: a @ b.T, r"plain dot products.*norms"),
        (lambda a, b: (a / np.linalg.norm(a, axis=1, keepdims=True)) @ b.T, r"normalise B"),
        (lambda a, b: cosine_matrix(a, b).T, r"shape|transpose"),
    ],
    "9.4": [
        (ns_neg_sign_flipped, r"sign of the negative-sample term is flipped"),
        (ns_grad_h_sign_flipped, r"grad_h.*sign of the negative-sample term is flipped"),
        (lambda h, p, n: (-ns_loss_and_grads(h, p, n)[0],) + ns_loss_and_grads(h, p, n)[1:], r"objective.*negative"),
        (lambda h, p, n: ns_loss_and_grads(h, p, n)[:3], r"tuple of 4"),
        (lambda h, p, n: (ns_loss_and_grads(h, p, n)[0], (_sig(p @ h) - 1) * p) + ns_loss_and_grads(h, p, n)[2:],
         r"contribution.*missing"),
        (lambda h, p, n: (ns_loss_and_grads(h, p, n)[0], (_sig(p @ h) - 1) * p + _sig(n @ h) @ n / len(n))
         + ns_loss_and_grads(h, p, n)[2:], r"summed over k, not averaged"),
        (lambda h, p, n: (ns_loss_and_grads(h, p, n)[0], (_sig(p @ h) - 1) * p + _sig(n[0] @ h) * n[0])
         + ns_loss_and_grads(h, p, n)[2:], r"only the first noise word"),
        (lambda h, p, n: (-np.log(_sig(p @ h)) - np.mean(np.log(_sig(-(n @ h)))),) + ns_loss_and_grads(h, p, n)[1:],
         r"summed, not averaged"),
    ],
    "9.5": [
        (lambda c: c / c.sum(), r"3/4"),
        (lambda c: c ** 0.75, r"sum to 1"),
        (lambda c: (c / c.sum()) ** 0.75, r"after raising"),
        (lambda c: noise_distribution(c).astype(int), r"dtype int"),
    ],
    "9.6": [
        ((analogy_unnormalised, KV), r"unit-length|normalise"),
        ((analogy_no_exclusion, KV), r"exclude a, b and c"),
        ((analogy_excluding_only_c, KV), r"exclude a, b and c"),
        ((lambda E, w, a, b, c: w.index(analogy(E, w, a, b, c)), KV), r"string"),
        ((analogy, np.zeros((3, 2))), r"KeyedVectors"),
    ],
    "9.7": [
        (embedding_trainable, r"trainable=False"),
        (embedding_random, r"does not return the given vectors"),
        (embedding_transposed, r"transposed"),
        (lambda E: E, r"keras.layers.Embedding"),
    ],
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)


def test_unnormalised_analogy_differs_on_the_synthetic_vectors():
    from helpers.checks import ch09

    e, words = ch09._synthetic_vectors()
    queries = ch09._queries(words, 25, 1)
    assert sum(analogy(e, words, *q) != analogy_unnormalised(e, words, *q) for q in queries) >= 3


def test_embedding_projection_plot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers import plots

    fig = plots.embedding_projection(np.zeros((3, 2)), ["a", "b", "c"], title="t")
    assert len(fig.axes[0].texts) == 3
    plt.close(fig)
    with pytest.raises(ValueError, match="one \\(x, y\\) per label"):
        plots.embedding_projection(np.zeros((3, 2)), ["a", "b"])


# Mutants of the reference answers that compute the same thing (python -m helpers.mutants).
EQUIVALENT = {
    "9.4": {
        "L4 Transposed left operand: s_neg @ v_neg": "s_neg is 1-D: s_neg.T is s_neg",
        "L1 Operands swapped: v_pos @ h": "h @ v_pos is the same dot product of two vectors",
        "L1 Transposed left operand: v_pos @ h": "v_pos is 1-D: v_pos.T is v_pos",
        "L1 Transposed right operand: v_pos @ h": "h is 1-D: h.T is h",
        "L2 Transposed right operand: v_neg @ h": "h is 1-D: h.T is h",
    },
    "9.5": {
        "L1 Sign flipped (x→−x): np.asarray(counts, dtype=float) ** 0.75": "−w / Σ(−w) is w / Σw",
        "L1 Call dropped: np.asarray(counts, dtype=float)": "counts is an array: ** 0.75 gives floats anyway",
    },
    "9.6": {
        "L1 Sign flipped (x→−x): E / np.linalg.norm(E, axis=1, keepdims=True)": "−U flips the query too: the scores "
                                                                                "(−U)(−q) are unchanged",
        "L4 Transposed right operand: U @ (query / np.linalg.norm(query))": "the query is 1-D: .T changes nothing",
        "L4 BinOp Div→Mult: query / np.linalg.norm(query)": "a positive factor on every score: the argmax is the same",
        "L4 Factor dropped (right): query / np.linalg.norm(query)": "a positive factor on every score: the argmax "
                                                                    "is the same",
    },
    "9.7": {
        "L2 Call dropped: keras.initializers.Constant(E)": "Keras takes the array itself as the initializer",
    },
}
