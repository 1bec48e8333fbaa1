"""Checks for chapter 08 (sequence models in practice).

Oracles: Keras layers run on the check's own inputs (``Embedding`` with the table set into it,
``TextVectorization`` with a fixed vocabulary, ``GlobalAveragePooling1D`` with a mask,
``count_params()`` of freshly built recurrent layers, ``AdditiveAttention`` with the scale set to
``v``), scikit-learn's ``roc_auc_score``, and, for the procedures (the threshold, greedy decoding),
interventions and a scripted model whose right output is known by construction. The wrong
variants here only serve to recognise a known mistake and name it; they are never the reference.
"""
from __future__ import annotations

import functools

import numpy as np

from helpers import tensorflow
from helpers.checks import as_array, assert_close, call, exercise, fail, require, unpack


def _ints(value, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """An integer answer (ids, counts) as an int64 array, or a hint."""
    array = as_array(value, name, shape, allow_int=True)
    if not np.all(array == np.round(array)):
        fail(f"{name} should hold whole numbers (token ids / counts), got fractions.")
    return array.astype(np.int64)


# --------------------------------------------------------------------------- 8.1
_EMBED_CASES = [(0, 3, 5, 7, 4), (1, 2, 6, 11, 3)]  # seed, batch, T, V, n


@exercise("8.1", "embedding lookup as a one-hot product",
          "embed(ids, table) = one_hot(ids) @ table matches keras.layers.Embedding")
def ex_8_1(embed) -> None:
    import keras

    tensorflow()
    for seed, batch, steps, vocab, dim in _EMBED_CASES:
        rng = np.random.default_rng(seed)
        ids = rng.integers(0, vocab, (batch, steps))
        ids[0, 0], ids[-1, -1] = 0, vocab - 1                     # the padding row and the last row are used
        table = rng.standard_normal((vocab, dim))
        layer = keras.layers.Embedding(vocab, dim, dtype="float64")
        layer.build((None, steps))
        layer.set_weights([table])
        expected = layer(ids).numpy()
        out = call(embed, ids, table, name="embed")
        if np.shape(out) == (batch * steps, dim):
            fail(f"the result should have shape {(batch, steps, dim)} (one vector per token, batch and time kept), "
                 f"got {(batch * steps, dim)} — reshape back to (batch, T, n).")
        if np.shape(out) == (batch, steps, vocab):
            fail("that is the one-hot matrix itself: multiply it by the table, one_hot(ids) @ table.")
        hints = [(table[np.clip(ids - 1, 0, None)], "row k of the table belongs to id k (id 0, the padding id, has "
                                                    "row 0): no −1 shift."),
                 (table[(ids - 1) % vocab], "row k of the table belongs to id k (id 0, the padding id, has row 0): "
                                            "no −1 shift.")]
        assert_close(out, expected, f"embed(ids, table) for V={vocab}, n={dim}", rtol=1e-10, atol=1e-12,
                     hints=hints, index_names=["batch row", "time step", "feature"])


# --------------------------------------------------------------------------- 8.2
_VOCAB_CASES = [
    (["the", "cat", "sat", "on", "mat", "dog"], 5,
     ["the cat sat on the mat", "a dog sat", "the bird flew over the cat and the dog", "", "mat"]),
    (["a", "b", "c", "d", "e", "f", "g", "h", "i"], 8,
     ["a b c", "z y a b c d e f g h i", "i h g", "q", "b b b b b b b b b b"]),
]


def _vectorize_variant(texts, words, length, first=2, oov=1, pad_front=False, keep_last=False):
    index = {w: k + first for k, w in enumerate(words)}
    ids = np.zeros((len(texts), length), np.int64)
    for row, text in enumerate(texts):
        tokens = [index.get(t, oov) for t in text.split()]
        tokens = tokens[-length:] if keep_last else tokens[:length]
        if tokens:
            if pad_front:
                ids[row, length - len(tokens):] = tokens
            else:
                ids[row, :len(tokens)] = tokens
    return ids


@exercise("8.2", "token ids and the embedding's input_dim",
          "vectorize matches keras.layers.TextVectorization (0 = padding, 1 = OOV) and input_dim = V + 2")
def ex_8_2(vectorize) -> None:
    import keras

    tensorflow()
    for words, length, texts in _VOCAB_CASES:
        layer = keras.layers.TextVectorization(vocabulary=words, output_sequence_length=length, standardize=None,
                                               split="whitespace")
        expected = layer(np.array(texts)).numpy()
        rows = len(layer.get_vocabulary())
        out = unpack(call(vectorize, list(texts), list(words), length, name="vectorize"), "vectorize",
                     ["ids", "input_dim"])
        ids = _ints(out[0], "ids", (len(texts), length))
        hints = [
            (_vectorize_variant(texts, words, length, first=1, oov=0),
             "ids start at 1 and unknown words are 0: Keras reserves 0 for padding AND 1 for out-of-vocabulary "
             "([UNK]), so word k of the vocabulary gets id k + 2."),
            (_vectorize_variant(texts, words, length, oov=0),
             "an unknown word is id 1 ([UNK]), not 0: id 0 means padding (it is masked away)."),
            (_vectorize_variant(texts, words, length, first=1),
             "word k of the vocabulary gets id k + 2: ids 0 (padding) and 1 (OOV) come first."),
            (_vectorize_variant(texts, words, length, pad_front=True),
             "TextVectorization pads (and truncates) at the END: the ids start at position 0, zeros follow."),
            (_vectorize_variant(texts, words, length, keep_last=True),
             "a long text keeps its FIRST `length` tokens (TextVectorization truncates at the end)."),
        ]
        bad = ids != expected
        for wrong, explanation in hints:
            if np.array_equal(ids, wrong):
                fail(f"ids are not right: {explanation}")
        if bad.any():
            r, t = map(int, np.argwhere(bad)[0])
            fail(f"ids are not right: text {r} ({texts[r]!r}), position {t}: expected id {expected[r, t]}, "
                 f"got {ids[r, t]}.")
        dim = _ints(out[1], "input_dim", ())
        V = len(words)
        if int(dim) == V:
            fail(f"input_dim = {V} = V is too small: the embedding table needs one row per id, and the ids run from "
                 f"0 (padding) and 1 (OOV) to V + 1 = {V + 1}: input_dim = V + 2 = {V + 2} "
                 "(= len(layer.get_vocabulary())). With input_dim = V the last words' ids have no row.")
        if int(dim) == V + 1:
            fail(f"input_dim = V + 1 = {V + 1} is one row short: besides the padding id 0, the OOV id 1 needs a row "
                 f"too, so input_dim = V + 2 = {V + 2} (= len(layer.get_vocabulary())).")
        require(int(dim) == rows, f"input_dim should be {rows} (the largest id + 1), got {int(dim)}.")


# --------------------------------------------------------------------------- 8.3
_POOL_CASES = [(0, 3, 6, 4, [6, 2, 4]), (1, 4, 5, 3, [1, 5, 3, 2])]  # seed, batch, T, n, lengths


@exercise("8.3", "masked mean pooling",
          "masked_mean averages the real steps only and matches GlobalAveragePooling1D with a mask")
def ex_8_3(masked_mean) -> None:
    import keras

    tensorflow()
    for seed, batch, steps, dim, lengths in _POOL_CASES:
        rng = np.random.default_rng(seed)
        mask = np.arange(steps)[None, :] < np.array(lengths)[:, None]
        x = rng.standard_normal((batch, steps, dim))
        x[~mask] += 50.0                                          # padded steps hold large, non-zero values
        expected = keras.layers.GlobalAveragePooling1D(dtype="float64")(x, mask=mask).numpy()
        out = call(masked_mean, x, mask, name="masked_mean")
        if np.shape(out) == (batch, 1, dim):
            fail(f"the result should have shape {(batch, dim)}: drop the kept time axis (keepdims only for the count).")
        counted = x.mean(axis=1)
        hints = [
            (counted, "the padded steps were averaged too: sum over the real steps only and divide by the number "
                      "of real steps (mask.sum(axis=1))."),
            ((x * mask[..., None]).sum(axis=1) / steps, "the padded steps are zeroed but the sum is divided by T: "
                                                        "divide by the number of real steps of each row."),
            ((x * mask[..., None]).sum(axis=1) / mask.sum(), "divided by the real steps of the whole batch: each "
                                                             "row has its own count, mask.sum(axis=1)."),
            (x.sum(axis=1) / mask.sum(axis=1, keepdims=True), "the padded steps were summed too: multiply by the "
                                                              "mask before summing."),
        ]
        assert_close(out, expected, f"masked_mean for lengths {lengths}", rtol=1e-9, atol=1e-10, hints=hints,
                     index_names=["batch row", "feature"])
        # the intervention: other values at the padded steps must change nothing
        changed = x.copy()
        changed[~mask] = rng.standard_normal(int((~mask).sum()) * dim).reshape(-1, dim) * 10.0
        again = as_array(call(masked_mean, changed, mask, name="masked_mean"), "masked_mean(changed x, mask)",
                         (batch, dim))
        require(np.allclose(again, expected, rtol=1e-5, atol=1e-6),
                "the result changed when only the padded steps of x were changed: padded steps must not count.")


# --------------------------------------------------------------------------- 8.4
_PARAM_CASES = [  # kind, units, features, options
    ("SimpleRNN", 10, 2, {}), ("SimpleRNN", 7, 3, {}), ("LSTM", 32, 32, {}), ("LSTM", 5, 3, {}),
    ("GRU", 32, 32, {"reset_after": False}), ("GRU", 32, 32, {}), ("GRU", 4, 6, {"reset_after": True}),
    ("GRU", 6, 4, {"reset_after": False}), ("LSTM", 32, 32, {"bidirectional": True}),
    ("GRU", 3, 5, {"bidirectional": True}), ("SimpleRNN", 4, 9, {"bidirectional": True}),
    ("GRU", 5, 2, {"reset_after": False, "bidirectional": True}), ("LSTM", 3, 8, {"bidirectional": False}),
]
_GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}


@functools.lru_cache(maxsize=None)
def _keras_count(kind: str, units: int, features: int, reset_after: bool = True, bidirectional: bool = False) -> int:
    import keras

    layer_class = getattr(keras.layers, kind)
    layer = layer_class(units, reset_after=reset_after) if kind == "GRU" else layer_class(units)
    if bidirectional:
        layer = keras.layers.Bidirectional(layer)
    layer.build((None, None, features))
    return int(layer.count_params())


@exercise("8.4", "parameter counts of recurrent layers",
          "rnn_params matches count_params() of SimpleRNN, LSTM, GRU (both reset_after) and Bidirectional")
def ex_8_4(rnn_params) -> None:
    tensorflow()
    for kind, units, features, options in _PARAM_CASES:
        expected = _keras_count(kind, units, features, **options)
        got = int(_ints(call(rnn_params, kind, units, features, name="rnn_params", **options),
                        f"rnn_params({kind!r}, {units}, {features})", ()))
        if got == expected:
            continue
        u, n, g = units, features, _GATES[kind]
        two = 2 if options.get("bidirectional") else 1
        described = f"rnn_params({kind!r}, units={u}, features={n}" + "".join(
            f", {k}={v}" for k, v in options.items()) + ")"
        base = g * u * (u + n + 1)
        if got == base * two and kind == "GRU" and options.get("reset_after", True):
            fail(f"{described} = {got}: with reset_after=True (Keras 3's default) the GRU keeps two bias vectors, "
                 f"one for the input and one for the recurrent product: 3u(u + n + 1) + 3u = {expected // two} per direction.")
        if got == (base + (3 * u if kind == "GRU" and options.get("reset_after", True) else 0)) and two == 2:
            fail(f"{described} = {got}: Bidirectional holds two independent copies of the layer (forward and "
                 f"backward), so twice the parameters: {expected}.")
        if got == g * u * (u + n) * two:
            fail(f"{described} = {got}: the biases are missing — each gate has u biases: {g}u(u + n + 1).")
        if kind == "GRU" and not options.get("reset_after", True) and got == (base + 3 * u) * two:
            fail(f"{described} = {got}: with reset_after=False the GRU has ONE bias vector (3u), not two.")
        if got == u * (u + n + 1) * two or (kind != "SimpleRNN" and got == base * two // g):
            fail(f"{described} = {got}: an {kind} has {g} blocks (gates and candidate), each with its own "
                 f"kernel, recurrent kernel and bias: {g}u(u + n + 1).")
        fail(f"{described} should be {expected} (Keras count_params()), got {got}.")


# --------------------------------------------------------------------------- 8.6
def _targets(seed: int, batch: int, steps: int, eos: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    targets = rng.integers(3, 13, (batch, steps))
    lengths = rng.integers(1, steps, batch)
    lengths[0] = steps - 1
    for row, length in enumerate(lengths):
        targets[row, length] = eos
        targets[row, length + 1:] = 0                             # padding after <eos>
    return targets


@exercise("8.6", "teacher forcing: the decoder's inputs",
          "decoder_inputs is <sos> followed by the targets shifted right by one step")
def ex_8_6(decoder_inputs) -> None:
    for seed, batch, steps, sos, eos in ((0, 3, 6, 1, 2), (1, 4, 5, 13, 14)):
        targets = _targets(seed, batch, steps, eos)
        expected = np.concatenate([np.full((batch, 1), sos), targets[:, :-1]], axis=1)
        out = call(decoder_inputs, targets, sos, name="decoder_inputs")
        if np.shape(out) == (batch, steps + 1):
            fail(f"the decoder inputs should have the targets' shape {(batch, steps)}: <sos> goes in front and the "
                 "LAST target is dropped (nothing is predicted after it).")
        ids = _ints(out, "decoder inputs", (batch, steps))
        if np.array_equal(ids, targets):
            fail("the decoder inputs are the targets themselves: at step t the decoder would be given y_t, the "
                 "very token it must predict, and learns to copy it. Teacher forcing feeds the PREVIOUS target: "
                 "input_t = y_{t-1}, with <sos> at t = 0.")
        if np.array_equal(ids, np.concatenate([targets[:, 1:], np.full((batch, 1), sos)], axis=1)):
            fail("the targets were shifted LEFT (input_t = y_{t+1}, a look into the future): shift them right, "
                 "<sos> in front.")
        if np.array_equal(ids[:, 1:], targets[:, :-1]) and not np.all(ids[:, 0] == sos):
            fail(f"the first decoder input must be the start token <sos> = {sos}.")
        if np.array_equal(ids[:, 1:], targets[:, 1:]):
            fail("only the first step was replaced by <sos>; every step must move right by one: "
                 "input_t = y_{t-1}.")
        bad = np.argwhere(ids != expected)
        if len(bad):
            r, t = map(int, bad[0])
            fail(f"decoder inputs are not right: row {r}, step {t}: expected {expected[r, t]}, got {ids[r, t]}.")


# --------------------------------------------------------------------------- 8.7
# seed, batch, T, S, d_s, d_h, attention units, scale of v: the last case has scores beyond 709 (exp overflows
# without the max shift) whose rows have very different maxima
_ATT_CASES = [(0, 2, 3, 5, 4, 6, 7, 3.0), (1, 3, 4, 2, 5, 3, 2, 3.0), (2, 2, 3, 4, 3, 2, 8, 300.0)]


def _softmax(e: np.ndarray, axis: int = -1) -> np.ndarray:
    z = np.exp(e - e.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


@exercise("8.7", "Bahdanau (additive) attention",
          "bahdanau_attention matches keras.layers.AdditiveAttention on the projected states (weights and context)")
def ex_8_7(bahdanau_attention) -> None:
    import keras

    tensorflow()
    for seed, batch, t, s, d_s, d_h, a, v_scale in _ATT_CASES:
        rng = np.random.default_rng(seed)
        dec, enc = rng.standard_normal((batch, t, d_s)), rng.standard_normal((batch, s, d_h))
        W_s, W_h = rng.standard_normal((d_s, a)), rng.standard_normal((d_h, a))
        v = v_scale * rng.standard_normal(a)
        layer = keras.layers.AdditiveAttention(use_scale=True, dtype="float64")
        q, k = dec @ W_s, enc @ W_h
        layer.build([q.shape, enc.shape, k.shape])
        layer.set_weights([v])
        context_k, weights_k = layer([q, enc, k], return_attention_scores=True)
        context_k, weights_k = context_k.numpy(), weights_k.numpy()
        out = unpack(call(bahdanau_attention, dec, enc, W_s, W_h, v, name="bahdanau_attention"),
                     "bahdanau_attention", ["context", "weights"])
        if np.shape(out[1]) == (batch, s, t) and s != t:
            fail(f"weights should have shape {(batch, t, s)} (decoder step, encoder position), got {(batch, s, t)}.")
        if np.shape(out[0]) == (batch, t, a) and a != d_h:
            fail(f"context should have shape {(batch, t, d_h)}: it averages the encoder states h (the values), "
                 "not their projections h W_h.")
        scores = np.tanh(q[:, :, None, :] + k[:, None, :, :]) @ v
        hints = [
            (_softmax(scores, axis=1), "the softmax ran over the decoder steps (axis 1); each decoder step's weights "
                                       "are normalised over the ENCODER positions (the last axis)."),
            (scores, "these are the scores e = vᵀ tanh(s W_s + h W_h) before the softmax: the weights are softmax(e) "
                     "over the encoder positions."),
            (_softmax((q[:, :, None, :] + k[:, None, :, :]) @ v), "the tanh is missing: e = vᵀ tanh(s W_s + h W_h)."),
            (_softmax(np.tanh(q[:, :, None, :] + k[:, None, :, :]).sum(-1)), "v is missing: e = vᵀ tanh(s W_s + h W_h) "
                                                                             "weights the a features by v."),
        ]
        label = f"weights (B={batch}, T={t}, S={s})"
        assert_close(out[1], weights_k, label, rtol=1e-7, atol=1e-10, hints=hints,
                     index_names=["batch row", "decoder step", "encoder position"])
        assert_close(out[0], context_k, f"context (B={batch}, T={t}, S={s})", rtol=1e-7, atol=1e-10,
                     hints=[(weights_k @ k, "the context averages the encoder states h (the values), not their "
                                            "projections h W_h.")],
                     index_names=["batch row", "decoder step", "feature"])


# --------------------------------------------------------------------------- 8.5
def _youden(scores: np.ndarray, labels: np.ndarray, t: float) -> float:
    predicted = scores >= t
    return float(predicted[labels == 1].mean() - predicted[labels == 0].mean())


def _best(scores: np.ndarray, labels: np.ndarray) -> float:
    return max(_youden(scores, labels, t) for t in np.unique(scores))


def _scores(rng, count: int, decimals: int, signal: float = 1.2) -> tuple[np.ndarray, np.ndarray]:
    labels = (rng.random(count) < 0.6).astype(np.int64)
    labels[:2] = (0, 1)
    scores = 1 / (1 + np.exp(-(signal * (2 * labels - 1) + rng.standard_normal(count))))
    return np.round(scores, decimals), labels


def _snap(t: float, scores: np.ndarray) -> float:
    """A threshold within float32 rounding of a validation score is that score (a float32 answer
    may sit just above the float64 score it was computed from)."""
    nearest = scores[np.argmin(np.abs(scores - t))]
    return float(nearest) if abs(nearest - t) <= 1e-6 * max(1.0, abs(nearest)) else t


@exercise("8.5", "a threshold chosen on validation data, AUC on test",
          "the threshold maximises Youden's J on validation (test data cannot move it); test accuracy and AUC are right")
def ex_8_5(evaluate) -> None:
    from sklearn.metrics import roc_auc_score

    for seed, n_val, n_test in ((0, 40, 50), (1, 33, 61)):
        rng = np.random.default_rng(seed)
        val_s, val_y = _scores(rng, n_val, 3)
        test_s, test_y = _scores(rng, n_test, 1, signal=0.6)             # coarse scores: many ties
        best = _best(val_s, val_y)
        maximisers = [t for t in np.unique(val_s) if _youden(val_s, val_y, t) >= best - 1e-12]
        test_s = np.concatenate([test_s, maximisers])                      # test scores exactly at the thresholds
        test_y = np.concatenate([test_y, np.ones(len(maximisers), np.int64)])
        out = unpack(call(evaluate, val_s, val_y, test_s, test_y, name="evaluate"), "evaluate",
                     ["threshold", "test_accuracy", "test_auc"])
        t = _snap(float(as_array(out[0], "threshold", ())), val_s)
        j_val = _youden(val_s, val_y, t)
        if j_val < best - 1e-12:
            if _youden(test_s, test_y, t) >= _best(test_s, test_y) - 1e-12:
                fail("the threshold maximises J on the TEST set: it must be chosen on the validation data, and the "
                     "test set used once, to report the result.")
            if t == 0.5:
                fail("0.5 is the default threshold, not one chosen on validation data: pick the validation score "
                     "that maximises TPR − FPR.")
            val_acc = [np.mean((val_s >= c) == val_y) for c in np.unique(val_s)]
            if np.mean((val_s >= t) == val_y) >= max(val_acc):
                fail("this threshold maximises validation ACCURACY; the criterion asked for is Youden's J = TPR − FPR.")
            fail(f"the threshold does not maximise Youden's J = TPR − FPR on the validation data (predict 1 when "
                 f"score ≥ threshold): J = {j_val:.3f} there, the best is {best:.3f}.")
        accuracy = float(np.mean((test_s >= t) == test_y))
        hints = [(np.mean((test_s > t) == test_y), "a score equal to the threshold is predicted positive "
                                                   "(score ≥ threshold), not only scores above it."),
                 (np.mean((val_s >= t) == val_y), "that is the VALIDATION accuracy; report the accuracy on the test set.")]
        assert_close(out[1], accuracy, "test_accuracy", rtol=1e-9, atol=1e-12, hints=hints)
        pos, neg = test_s[test_y == 1], test_s[test_y == 0]
        greater = np.mean(pos[:, None] > neg[None, :])
        assert_close(out[2], roc_auc_score(test_y, test_s), "test_auc", rtol=1e-9, atol=1e-12,
                     hints=[(greater, "ties between a positive and a negative score must count ½ (they are "
                                      "ordered either way): AUC = P(s⁺ > s⁻) + ½ P(s⁺ = s⁻)."),
                            (greater + np.mean(pos[:, None] == neg[None, :]), "ties must count ½, not 1."),
                            (roc_auc_score(val_y, val_s), "that is the VALIDATION AUC; report the test AUC.")])
        # the intervention: other test data must not move the threshold
        other_s, other_y = _scores(np.random.default_rng(seed + 100), n_test + 7, 2, signal=0.3)
        again = unpack(call(evaluate, val_s, val_y, other_s, other_y, name="evaluate"), "evaluate",
                       ["threshold", "test_accuracy", "test_auc"])
        require(_snap(float(as_array(again[0], "threshold", ())), val_s) == t,
                "the threshold changed when only the TEST data changed: it must be chosen on the validation data "
                "alone (was it tuned on the test set, or on validation and test data pooled?).")


# --------------------------------------------------------------------------- 8.8
class _Scripted:
    """A decoder whose right answer is known: it emits ``script`` (ending in <eos>) as long as it is
    fed its own previous outputs (<sos> first), then junk that is neither <sos> nor <eos>."""

    def __init__(self, script: list[int], sos: int, eos: int, vocab: int, seed: int) -> None:
        self.script, self.sos, self.eos, self.vocab = script, sos, eos, vocab
        rng = np.random.default_rng(seed)
        allowed = [k for k in range(vocab) if k not in (sos, eos)]
        self.junk = rng.choice(allowed, 64)
        self.noise = -5.0 + rng.random((64, vocab))
        self.calls = 0
        self.after_eos = 0

    def __call__(self, token, state):
        self.calls += 1
        step, on_track, done = state
        token = int(np.asarray(token).reshape(-1)[0]) if np.size(token) else -1
        if done:
            self.after_eos += 1
        expected_input = self.sos if step == 0 else self.script[step - 1] if step <= len(self.script) else None
        on_track = on_track and token == expected_input
        nxt = self.script[step] if on_track and step < len(self.script) else int(self.junk[step % 64])
        logits = self.noise[step % 64].copy()
        logits[nxt] = 2.0 + step % 3
        return logits, (step + 1, on_track, done or nxt == self.eos)


_DECODE_CASES = [  # script (without <eos>), sos, eos, vocab, max_len
    ([5, 3, 7], 1, 2, 9, 10), ([4, 4, 6, 3, 8], 11, 0, 12, 12), ([], 1, 2, 6, 5), ([3, 5, 4, 6, 7, 3], 1, 2, 9, 4),
    ([9, 2, 4, 8], 0, 1, 10, 5),
]


@exercise("8.8", "greedy decoding that stops at <eos>",
          "greedy_decode feeds back its own argmax from <sos> and stops at <eos> (or after max_len steps)")
def ex_8_8(greedy_decode) -> None:
    for seed, (script, sos, eos, vocab, max_len) in enumerate(_DECODE_CASES):
        model = _Scripted([*script, eos], sos, eos, vocab, seed)
        out = call(greedy_decode, model, (0, True, False), sos, eos, max_len, name="greedy_decode")
        expected = script[:max_len]
        if out is None:
            fail("greedy_decode returned None — return the list of generated tokens.")
        got = _ints(list(np.asarray(out).reshape(-1)) if np.size(out) else np.zeros(0), "the generated tokens")
        described = f"(expected {expected}, got {got.tolist()})"
        if len(script) < max_len and got.tolist() == [*script, eos]:
            fail(f"<eos> itself was returned {described}: stop at <eos> and leave it out.")
        if got.size and got[0] == sos and got[1:].tolist()[:len(expected)] == expected:
            fail(f"the start token <sos> was returned {described}: return the generated tokens only.")
        if len(script) < max_len and len(got) >= max_len and got[:len(script)].tolist() == script:
            fail(f"decoding ran on past <eos> to max_len {described}: stop when the model emits <eos> "
                 "(the END token), not when it emits <sos> — a decoder never generates <sos>.")
        if len(expected) > 1 and len(got) > 1 and got[0] == expected[0] and got[1] != expected[1]:
            fail(f"only the first token is right {described}: feed back the token predicted at the previous "
                 "step (its argmax), starting from <sos>, and pass the state returned by the model on.")
        if got.tolist() != expected:
            if len(got) == len(expected) - 1 and got.tolist() == expected[:-1]:
                fail(f"one token too few {described}: the loop runs up to max_len steps (or until <eos>).")
            fail(f"the generated tokens are not right {described}: start from <sos>, take the argmax of each "
                 "step's scores, feed it back with the new state, stop at <eos> (not returned) or after max_len steps.")
        require(model.after_eos == 0, "the model was called again after it emitted <eos>: stop at once.")
