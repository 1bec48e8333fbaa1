"""Chapter 09 checks: the reference answers pass, realistic wrong answers get specific hints."""
import re

import numpy as np
import pytest

from conftest import accept_tests, check_tests


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


# issue 9: stop words filtered twice, in-place changes of the inputs, sparse and float32 answers
def preprocess_stop_words_twice(text):
    from nltk.stem import PorterStemmer
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    stems = [PorterStemmer().stem(t) for t in re.findall(r"[a-z]+", text.lower()) if t not in ENGLISH_STOP_WORDS]
    return [s for s in stems if s not in ENGLISH_STOP_WORDS]  # filtered again after stemming


def preprocess_regexp_tokenizer(text):
    from nltk.stem import PorterStemmer
    from nltk.tokenize import RegexpTokenizer
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    kept = [t for t in RegexpTokenizer(r"[a-z]+").tokenize(text.lower()) if t not in ENGLISH_STOP_WORDS]
    stemmer = PorterStemmer()
    return tuple(map(stemmer.stem, kept))  # a tuple of str


def preprocess_loop(text):
    from nltk.stem import PorterStemmer
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    stemmer, out, word = PorterStemmer(), [], ""
    for ch in text.lower() + " ":
        if "a" <= ch <= "z":
            word += ch
        else:
            if word and word not in ENGLISH_STOP_WORDS:
                out.append(stemmer.stem(word))
            word = ""
    return out


def tfidf_transformer(counts):
    from sklearn.feature_extraction.text import TfidfTransformer

    return TfidfTransformer().fit_transform(counts)  # a scipy sparse matrix


def tfidf_float32_tf(counts):
    import tensorflow as tf

    c = tf.constant(counts, tf.float32)
    n = tf.cast(tf.shape(c)[0], tf.float32)
    df = tf.reduce_sum(tf.cast(c > 0, tf.float32), axis=0)
    w = c * (tf.math.log((1 + n) / (1 + df)) + 1)
    return tf.math.l2_normalize(w, axis=1)


def tfidf_scales_counts_in_place(counts):
    n, df = counts.shape[0], (counts > 0).sum(axis=0)
    counts *= np.log((1 + n) / (1 + df)) + 1
    return counts / np.linalg.norm(counts, axis=1, keepdims=True)


def cosine_sklearn_normalize(a, b):
    from sklearn.preprocessing import normalize

    return normalize(a) @ normalize(b).T


def cosine_tf32(a, b):
    import tensorflow as tf

    return tf.matmul(tf.math.l2_normalize(tf.constant(a, tf.float32), axis=1),
                     tf.math.l2_normalize(tf.constant(b, tf.float32), axis=1), transpose_b=True)


def cosine_normalises_in_place(a, b):
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def ns_tf32(h, v_pos, v_neg):
    import tensorflow as tf

    th, tp, tn = (tf.Variable(x.astype(np.float32)) for x in (h, v_pos, v_neg))
    with tf.GradientTape() as tape:
        loss = -tf.math.log_sigmoid(tf.tensordot(tp, th, 1)) - tf.reduce_sum(tf.math.log_sigmoid(-tf.linalg.matvec(tn, th)))
    return [loss, *tape.gradient(loss, [th, tp, tn])]  # a list of float32 tensors


def ns_logaddexp(h, v_pos, v_neg):
    z_pos, z_neg = v_pos @ h, v_neg @ h
    loss = np.logaddexp(0, -z_pos) + np.logaddexp(0, z_neg).sum()  # stable −log σ
    s_pos, s_neg = np.exp(-np.logaddexp(0, -z_pos)), np.exp(-np.logaddexp(0, -z_neg))
    return loss, (s_pos - 1) * v_pos + v_neg.T @ s_neg, (s_pos - 1) * h, np.outer(s_neg, h)


def ns_mean_of_all_terms(h, v_pos, v_neg):
    loss, g_h, g_pos, g_neg = ns_loss_and_grads(h, v_pos, v_neg)
    return loss / (len(v_neg) + 1), g_h, g_pos, g_neg


def noise_float32(counts):
    p = counts.astype(np.float32) ** np.float32(0.75)
    return p / p.sum()


def noise_tf(counts):
    import tensorflow as tf

    return tf.nn.softmax(0.75 * tf.math.log(tf.constant(counts)))  # exp(¾ log c) / Σ exp(¾ log c)


def noise_powers_in_place(counts):
    counts **= 0.75
    return counts / counts.sum()


def analogy_argsort(E, words, a, b, c):
    U = E / np.sqrt((E**2).sum(axis=1))[:, None]
    q = U[words.index(b)] - U[words.index(a)] + U[words.index(c)]
    for j in np.argsort(-(U @ q)):  # the best candidate that is not a query word
        if words[j] not in (a, b, c):
            return str(words[j])


def analogy_gensim(E, words, a, b, c):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(E.shape[1], dtype=np.float32)
    kv.add_vectors(list(words), E.astype(np.float32))
    return kv.most_similar(positive=[b, c], negative=[a], topn=1)[0][0]


def analogy_normalises_in_place(E, words, a, b, c):
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    return analogy(E, words, a, b, c)


def embedding_set_weights(E):
    import keras

    layer = keras.layers.Embedding(*E.shape)
    layer.build((None,))
    layer.set_weights([E])
    layer.trainable = False
    return layer


def embedding_float64_initializer(E):
    import keras

    return keras.layers.Embedding(input_dim=len(E), output_dim=E.shape[1], trainable=False,
                                  embeddings_initializer=lambda shape, dtype=None: keras.ops.convert_to_tensor(E, dtype))


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
        (preprocess_stop_words_twice, r"removed stop words again after stemming"),
    ],
    "9.2": [
        (lambda c: _tfidf(c, smooth=False), r"unsmoothed idf"),
        (lambda c: _tfidf(c, normalise=False), r"not L2-normalised"),
        (lambda c: c / np.linalg.norm(c, axis=1, keepdims=True), r"not right"),
        (lambda c: _l2rows(c * np.log((1 + len(c)) / (1 + (c > 0).sum(axis=0)))), r"\+ 1 after the logarithm is missing"),
        (lambda c: _l2rows(c * np.log(len(c) / (c > 0).sum(axis=0))), r"unsmoothed and lacks the \+ 1"),
        (lambda c: _l2rows(c * (np.log((1 + len(c)) / (1 + c.sum(axis=0))) + 1)), r"number of documents"),
        (lambda c: (lambda w: w / w.sum(axis=1, keepdims=True))(_tfidf(c, normalise=False)), r"L1-normalised"),
        (tfidf_scales_counts_in_place, r"modified its input `counts` in place"),
        (lambda c: _tfidf(c, smooth=False).astype(np.float32), r"unsmoothed idf"),
    ],
    "9.3": [
        (lambda a, b: a @ b.T, r"plain dot products.*norms"),
        (lambda a, b: (a / np.linalg.norm(a, axis=1, keepdims=True)) @ b.T, r"normalise B"),
        (lambda a, b: cosine_matrix(a, b).T, r"shape|transpose"),
        (cosine_normalises_in_place, r"modified its input `a` in place"),
        (lambda a, b: (a @ b.T).astype(np.float32), r"plain dot products"),
    ],
    "9.4": [
        (ns_neg_sign_flipped, r"sign of the negative-sample term is flipped"),
        (ns_grad_h_sign_flipped, r"grad_h.*sign of the negative-sample term is flipped"),
        (lambda h, p, n: (-ns_loss_and_grads(h, p, n)[0],) + ns_loss_and_grads(h, p, n)[1:], r"objective.*negative"),
        (lambda h, p, n: ns_loss_and_grads(h, p, n)[:3], r"4 values.*got 3"),
        (lambda h, p, n: (ns_loss_and_grads(h, p, n)[0], (_sig(p @ h) - 1) * p) + ns_loss_and_grads(h, p, n)[2:],
         r"contribution.*missing"),
        (lambda h, p, n: (ns_loss_and_grads(h, p, n)[0], (_sig(p @ h) - 1) * p + _sig(n @ h) @ n / len(n))
         + ns_loss_and_grads(h, p, n)[2:], r"summed over k, not averaged"),
        (lambda h, p, n: (ns_loss_and_grads(h, p, n)[0], (_sig(p @ h) - 1) * p + _sig(n[0] @ h) * n[0])
         + ns_loss_and_grads(h, p, n)[2:], r"only the first noise word"),
        (lambda h, p, n: (-np.log(_sig(p @ h)) - np.mean(np.log(_sig(-(n @ h)))),) + ns_loss_and_grads(h, p, n)[1:],
         r"summed, not averaged"),
        (ns_mean_of_all_terms, r"factor of 1/\(K \+ 1\)"),
        (lambda h, p, n: (np.float32(ns_loss_and_grads(h, p, n)[0] * 1.37),) + ns_loss_and_grads(h, p, n)[1:],
         r"expected [-\d.]+, got [-\d.]+\.$"),
    ],
    "9.5": [
        (lambda c: c / c.sum(), r"3/4"),
        (lambda c: c ** 0.75, r"sum to 1"),
        (lambda c: (c / c.sum()) ** 0.75, r"after raising"),
        (lambda c: noise_distribution(c).astype(int), r"dtype int"),
        (noise_powers_in_place, r"modified its input `counts` in place"),
        (lambda c: (c / c.sum()).astype(np.float32), r"3/4"),
        (lambda c: noise_distribution(c, 0.7), r"largest difference"),
    ],
    "9.6": [
        ((analogy_unnormalised, KV), r"unit-length|normalise"),
        ((analogy_no_exclusion, KV), r"exclude a, b and c"),
        ((analogy_excluding_only_c, KV), r"exclude a, b and c"),
        ((lambda E, w, a, b, c: w.index(analogy(E, w, a, b, c)), KV), r"string"),
        ((analogy, np.zeros((3, 2))), r"KeyedVectors"),
        ((analogy_normalises_in_place, KV), r"modified its input `E` in place"),
    ],
    "9.7": [
        (embedding_trainable, r"trainable=False"),
        (embedding_random, r"does not return the given vectors"),
        (embedding_transposed, r"transposed"),
        (lambda E: E, r"keras.layers.Embedding"),
        (lambda E: embedding_from_vectors(np.vstack([np.zeros((1, E.shape[1]), E.dtype), E])),  # a padding row 0
         r"maps 31 ids"),
    ],
}

ACCEPT = {
    "9.1": [preprocess_regexp_tokenizer, preprocess_loop],
    "9.2": [tfidf_transformer, tfidf_float32_tf],
    "9.3": [cosine_sklearn_normalize, cosine_tf32],
    "9.4": [ns_tf32, ns_logaddexp],
    "9.5": [noise_float32, noise_tf],
    "9.6": [(analogy_argsort, KV), (analogy_gensim, KV)],
    "9.7": [embedding_set_weights, embedding_float64_initializer],
}

# mutants of the solution answers that compute exactly what the exercise asks (see helpers.mutants)
EQUIVALENT = {
    "9.4": {"L4 Transposed left operand: s_neg @ v_neg": "s_neg is 1-D: s_neg.T is s_neg",
            "L1 Operands swapped: v_pos @ h": "a dot product of two vectors: h @ v_pos = v_pos @ h",
            "L1 Transposed left operand: v_pos @ h": "v_pos is 1-D: v_pos.T is v_pos",
            "L1 Transposed right operand: v_pos @ h": "h is 1-D: h.T is h",
            "L2 Transposed right operand: v_neg @ h": "h is 1-D: h.T is h"},
    "9.5": {"L1 Sign flipped (x→−x): np.asarray(counts, dtype=float) ** 0.75": "the normalisation cancels the sign: "
                                                                              "(−w)/Σ(−w) = w/Σw",
            "L1 Call dropped: np.asarray(counts, dtype=float)": "counts is an array (the exercise's contract); "
                                                                "count ** 0.75 is float for integer counts too"},
    "9.6": {"L1 Sign flipped (x→−x): E / np.linalg.norm(E, axis=1, keepdims=True)": "U → −U also negates the query: "
                                                                                    "the scores (−U)(−q) are unchanged",
            "L4 Transposed right operand: U @ (query / np.linalg.norm(query))": "the query is 1-D: its .T is itself",
            "L4 BinOp Div→Mult: query / np.linalg.norm(query)": "scaling the query by a positive number keeps the argmax",
            "L4 Factor dropped (right): query / np.linalg.norm(query)": "scaling the query by a positive number keeps "
                                                                         "the argmax"},
    "9.7": {"L2 Call dropped: keras.initializers.Constant(E)": "Keras accepts the array itself as "
                                                              "embeddings_initializer (the same constant initializer)"},
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)
test_accepted_answer_passes = accept_tests(ACCEPT)


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
