"""Chapter 08 checks: the reference answers pass, realistic wrong answers get specific hints.

The reference functions here are the answers of solutions/08_sequence_models.ipynb.
"""
import numpy as np
import tensorflow as tf

from conftest import accept_tests, check_tests


# --------------------------------------------------------------------------- 8.1
def embed(ids, table):
    one_hot = np.eye(table.shape[0])[ids]            # (batch, T, V): row k of the identity for id k
    return one_hot @ table                            # (batch, T, V) @ (V, n) -> (batch, T, n)


# --------------------------------------------------------------------------- 8.2
def vectorize(texts, words, length):
    index = {word: k + 2 for k, word in enumerate(words)}   # 0 = padding, 1 = OOV
    ids = np.zeros((len(texts), length), dtype=np.int64)
    for row, text in enumerate(texts):
        tokens = [index.get(token, 1) for token in text.split()][:length]
        ids[row, :len(tokens)] = tokens
    return ids, len(words) + 2


# --------------------------------------------------------------------------- 8.3
def masked_mean(x, mask):
    weights = mask[..., None].astype(x.dtype)          # (batch, T, 1): 1 on real steps
    return (x * weights).sum(axis=1) / weights.sum(axis=1)


# --------------------------------------------------------------------------- 8.4
def rnn_params(kind, units, features, reset_after=True, bidirectional=False):
    blocks = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[kind]
    count = blocks * units * (units + features + 1)
    if kind == "GRU" and reset_after:
        count += 3 * units                             # the second (recurrent) bias
    return 2 * count if bidirectional else count


# --------------------------------------------------------------------------- 8.6
def decoder_inputs(targets, sos):
    start = np.full((targets.shape[0], 1), sos, dtype=targets.dtype)
    return np.concatenate([start, targets[:, :-1]], axis=1)


# --------------------------------------------------------------------------- 8.7
def softmax(e, axis=-1):
    z = np.exp(e - e.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def bahdanau_attention(s, H, W_s, W_h, v):
    q = (s @ W_s)[:, :, None, :]                       # (B, T, 1, a)
    k = (H @ W_h)[:, None, :, :]                       # (B, 1, S, a)
    scores = np.tanh(q + k) @ v                        # (B, T, S)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = e / e.sum(axis=-1, keepdims=True)        # softmax over the encoder positions
    return weights @ H, weights


# --------------------------------------------------------------------------- 8.5
def evaluate(val_scores, val_labels, test_scores, test_labels):
    candidates = np.unique(val_scores)
    tpr = np.array([np.mean(val_scores[val_labels == 1] >= t) for t in candidates])
    fpr = np.array([np.mean(val_scores[val_labels == 0] >= t) for t in candidates])
    threshold = candidates[np.argmax(tpr - fpr)]       # Youden's J, on validation only
    accuracy = np.mean((test_scores >= threshold) == test_labels)
    pos, neg = test_scores[test_labels == 1], test_scores[test_labels == 0]
    auc = np.mean((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :]))
    return threshold, accuracy, auc


# --------------------------------------------------------------------------- 8.8
def greedy_decode(step, state, sos, eos, max_len):
    token, out = sos, []
    for _ in range(max_len):
        scores, state = step(token, state)
        token = int(np.argmax(scores))
        if token == eos:
            break
        out.append(token)
    return out


# --------------------------------------------------------------------------- wrong answers
def embed_shifted(ids, table):
    return table[ids - 1]


def embed_flat(ids, table):
    return np.eye(table.shape[0])[ids.reshape(-1)] @ table


def embed_one_hot_only(ids, table):
    return np.eye(table.shape[0])[ids]


def embed_depth_short(ids, table):
    return np.eye(table.shape[0] - 1)[np.minimum(ids, table.shape[0] - 2)] @ table[:-1]


def _vectorize(first=2, oov=1, pad_front=False, keep_last=False, dim=2):
    def vec(texts, words, length):
        index = {w: k + first for k, w in enumerate(words)}
        ids = np.zeros((len(texts), length), dtype=np.int64)
        for row, text in enumerate(texts):
            tokens = [index.get(t, oov) for t in text.split()]
            tokens = tokens[-length:] if keep_last else tokens[:length]
            if tokens:
                if pad_front:
                    ids[row, length - len(tokens):] = tokens
                else:
                    ids[row, :len(tokens)] = tokens
        return ids, len(words) + dim
    return vec


def vectorize_in_place(texts, words, length):
    words.insert(0, "[UNK]")
    ids, dim = vectorize(texts, words[1:], length)
    return ids, dim


def masked_mean_all_steps(x, mask):
    return x.mean(axis=1)


def masked_mean_divide_T(x, mask):
    return (x * mask[..., None]).sum(axis=1) / x.shape[1]


def masked_mean_batch_count(x, mask):
    return (x * mask[..., None]).sum(axis=1) / mask.sum()


def masked_mean_keepdims(x, mask):
    w = mask[..., None]
    return (x * w).sum(axis=1, keepdims=True) / w.sum(axis=1, keepdims=True)


def masked_mean_in_place(x, mask):
    x[~mask] = 0.0
    return x.sum(axis=1) / mask.sum(axis=1, keepdims=True)


def _params(variant):
    def params(kind, units, features, reset_after=True, bidirectional=False):
        blocks = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[kind]
        bias = 0 if variant == "no_bias" else 1
        count = blocks * units * (units + features + bias)
        if kind == "GRU" and (reset_after if variant != "ignore_reset_after" else False):
            count += 3 * units
        if variant == "always_two_biases" and kind == "GRU":
            count += 0 if reset_after else 3 * units
        if variant == "one_block":
            count = units * (units + features + 1)
        if variant == "rnn_with_output":                    # n² + nk + nm with m = units outputs
            count = blocks * (units * units + units * features + units * units)
        return count if variant == "no_double" else (2 * count if bidirectional else count)
    return params


def decoder_same_step(targets, sos):
    return targets.copy()


def decoder_shift_left(targets, sos):
    return np.concatenate([targets[:, 1:], np.full((targets.shape[0], 1), sos)], axis=1)


def decoder_too_long(targets, sos):
    return np.concatenate([np.full((targets.shape[0], 1), sos), targets], axis=1)


def decoder_first_only(targets, sos):
    out = targets.copy()
    out[:, 0] = sos
    return out


def decoder_no_sos(targets, sos):
    return np.concatenate([np.zeros((targets.shape[0], 1), targets.dtype), targets[:, :-1]], axis=1)


def decoder_in_place(targets, sos):
    targets[:, 1:] = targets[:, :-1].copy()
    targets[:, 0] = sos
    return targets


def _bahdanau(variant):
    def att(s, H, W_s, W_h, v):
        q, k = (s @ W_s)[:, :, None, :], (H @ W_h)[:, None, :, :]
        pre = q + k if variant == "no_tanh" else np.tanh(q + k)
        scores = pre.sum(-1) if variant == "no_v" else pre @ v
        if variant == "raw":
            weights = scores
        else:
            weights = softmax(scores, axis=1 if variant == "axis" else -1)
        context = weights @ (H @ W_h) if variant == "projected" else weights @ H
        if variant == "transposed":
            weights = np.swapaxes(weights, 1, 2)
        return context, weights
    return att


def _evaluate(variant):
    def ev(val_scores, val_labels, test_scores, test_labels):
        if variant == "on_test":
            s, y = test_scores, test_labels
        else:
            s, y = val_scores, val_labels
        candidates = np.unique(s)
        tpr = np.array([np.mean(s[y == 1] >= t) for t in candidates])
        fpr = np.array([np.mean(s[y == 0] >= t) for t in candidates])
        threshold = candidates[np.argmax(tpr - fpr)]
        if variant == "half":
            threshold = 0.5
        if variant == "accuracy":
            threshold = candidates[np.argmax([np.mean((s >= t) == y) for t in candidates])]
        acc_s, acc_y = (val_scores, val_labels) if variant == "val_accuracy" else (test_scores, test_labels)
        accuracy = np.mean(((acc_s > threshold) if variant == "strict" else (acc_s >= threshold)) == acc_y)
        pos, neg = test_scores[test_labels == 1], test_scores[test_labels == 0]
        tie = {"ties_zero": 0.0, "ties_one": 1.0}.get(variant, 0.5)
        auc = np.mean((pos[:, None] > neg[None, :]) + tie * (pos[:, None] == neg[None, :]))
        return threshold, accuracy, auc
    return ev


def evaluate_pooled(val_scores, val_labels, test_scores, test_labels):
    """The threshold tuned on validation and test data pooled together."""
    s, y = np.concatenate([val_scores, test_scores]), np.concatenate([val_labels, test_labels])
    _, _, auc = evaluate(val_scores, val_labels, test_scores, test_labels)
    candidates = np.unique(s)
    j = [np.mean(s[y == 1] >= t) - np.mean(s[y == 0] >= t) for t in candidates]
    t = candidates[np.argmax(j)]
    return t, np.mean((test_scores >= t) == test_labels), auc


def _decode(variant):
    def dec(step, state, sos, eos, max_len):
        token, out = sos, []
        for _ in range(max_len - 1 if variant == "short" else max_len):
            scores, new_state = step(sos if variant == "always_sos" else token, state)
            state = state if variant == "no_state" else new_state
            token = int(np.argmax(scores))
            if variant == "stop_at_sos":
                if token == sos:
                    break
                out.append(token)
                continue
            if variant == "keep_eos":
                out.append(token)
                if token == eos:
                    break
                continue
            if token == eos:
                break
            out.append(token)
        return [sos, *out] if variant == "with_sos" else out
    return dec


def decode_after_eos(step, state, sos, eos, max_len):
    token, out, stopped = sos, [], False
    for _ in range(max_len):
        scores, state = step(token, state)
        token = int(np.argmax(scores))
        stopped = stopped or token == eos
        if not stopped:
            out.append(token)
    return out


# --------------------------------------------------------------------------- accepted answers
def embed_gather(ids, table):
    return table[ids]


def embed_tf(ids, table):
    return tf.nn.embedding_lookup(table, ids)


def embed_float32(ids, table):
    return tf.one_hot(ids, table.shape[0], dtype=tf.float32) @ tf.constant(table, tf.float32)


def vectorize_tuple_list(texts, words, length):
    index = {w: i for i, w in enumerate(["", "[UNK]", *words])}
    rows = []
    for text in texts:
        tokens = [index.get(t, 1) for t in text.split()][:length]
        rows.append(tokens + [0] * (length - len(tokens)))
    return [rows, len(index)]


def vectorize_keras(texts, words, length):
    import keras

    layer = keras.layers.TextVectorization(vocabulary=words, output_sequence_length=length, standardize=None)
    return layer(np.array(texts)).numpy(), layer.vocabulary_size()


def masked_mean_float32(x, mask):
    return masked_mean(x.astype(np.float32), mask)


def masked_mean_tf(x, mask):
    m = tf.cast(mask, tf.float64)[..., None]
    return tf.reduce_sum(x * m, axis=1) / tf.reduce_sum(m, axis=1)


def masked_mean_where(x, mask):
    return np.where(mask[..., None], x, 0.0).sum(axis=1) / mask.sum(axis=1)[:, None]


def rnn_params_table(kind, units, features, reset_after=True, bidirectional=False):
    u, n = units, features
    count = {"SimpleRNN": u * u + n * u + u, "LSTM": 4 * (u * u + n * u + u),
             "GRU": 3 * (u * u + n * u + u) + (3 * u if reset_after else 0)}[kind]
    return np.int64(count * (1 + int(bidirectional)))


def rnn_params_float(kind, units, features, reset_after=True, bidirectional=False):
    return float(rnn_params(kind, units, features, reset_after, bidirectional))


def decoder_inputs_roll(targets, sos):
    out = np.roll(targets, 1, axis=1)
    out[:, 0] = sos
    return out


def decoder_inputs_tf(targets, sos):
    return tf.pad(targets[:, :-1], [[0, 0], [1, 0]], constant_values=sos)


def bahdanau_float32(s, H, W_s, W_h, v):
    return bahdanau_attention(*(a.astype(np.float32) for a in (s, H, W_s, W_h, v)))


def bahdanau_tf(s, H, W_s, W_h, v):
    e = tf.einsum("btsa,a->bts", tf.tanh(tf.einsum("btd,da->bta", s, W_s)[:, :, None]
                                         + tf.einsum("bsd,da->bsa", H, W_h)[:, None]), v)
    w = tf.nn.softmax(e, axis=-1)
    return [w @ H, w]


def bahdanau_loop(s, H, W_s, W_h, v):
    B, T, S = s.shape[0], s.shape[1], H.shape[1]
    weights = np.zeros((B, T, S))
    for b in range(B):
        for t in range(T):
            e = np.array([v @ np.tanh(s[b, t] @ W_s + H[b, j] @ W_h) for j in range(S)])
            weights[b, t] = np.exp(e - e.max()) / np.exp(e - e.max()).sum()
    return weights @ H, weights


def evaluate_float32(val_scores, val_labels, test_scores, test_labels):
    return evaluate(val_scores.astype(np.float32), val_labels, test_scores.astype(np.float32), test_labels)


def evaluate_sklearn(val_scores, val_labels, test_scores, test_labels):
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, thresholds = roc_curve(val_labels, val_scores, drop_intermediate=False)
    t = thresholds[np.argmax(tpr - fpr)]
    return [t, np.mean((test_scores >= t) == test_labels), roc_auc_score(test_labels, test_scores)]


def evaluate_ranks(val_scores, val_labels, test_scores, test_labels):
    from scipy.stats import rankdata

    best, threshold = -1.0, None
    for t in sorted(set(val_scores.tolist()), reverse=True):
        j = np.mean(val_scores[val_labels == 1] >= t) - np.mean(val_scores[val_labels == 0] >= t)
        if j > best:
            best, threshold = j, t
    ranks = rankdata(test_scores)                      # mid-ranks for ties
    n1 = int(test_labels.sum())
    n0 = len(test_labels) - n1
    auc = (ranks[test_labels == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    return threshold, float(np.mean((test_scores >= threshold) == test_labels)), auc


def greedy_decode_while(step, state, sos, eos, max_len):
    out, token = [], sos
    while len(out) < max_len:
        scores, state = step(np.array([token]), state)
        token = int(tf.argmax(scores))
        if token == eos:
            return np.array(out, dtype=np.int64)
        out.append(token)
    return np.array(out, dtype=np.int64)


def greedy_decode_tuple(step, state, sos, eos, max_len):
    tokens = [sos]
    for _ in range(max_len):
        scores, state = step(tokens[-1], state)
        tokens.append(int(np.argmax(scores)))
        if tokens[-1] == eos:
            return tuple(tokens[1:-1])
    return tuple(tokens[1:])


REFERENCE = {
    "8.1": (embed,),
    "8.2": (vectorize,),
    "8.3": (masked_mean,),
    "8.4": (rnn_params,),
    "8.6": (decoder_inputs,),
    "8.7": (bahdanau_attention,),
    "8.5": (evaluate,),
    "8.8": (greedy_decode,),
}

WRONG = {
    "8.1": [
        (embed_shifted, r"row k of the table belongs to id k.*no −1 shift"),
        (embed_flat, r"shape \(3, 5, 4\).*reshape back"),
        (embed_one_hot_only, r"one-hot matrix itself.*multiply it by the table"),
        (embed_depth_short, r"embed\(ids, table\) .*is not right"),
        (lambda ids, table: np.eye(table.shape[0])[ids] @ table[:, :-1], r"should have shape \(3, 5, 4\)"),
    ],
    "8.2": [
        (_vectorize(dim=0), r"input_dim = 6 = V is too small.*V \+ 2"),
        (_vectorize(dim=1), r"input_dim = V \+ 1 = 7 is one row short.*OOV id 1 needs a row"),
        (_vectorize(first=1, oov=0, dim=1), r"reserves 0 for padding AND 1 for out-of-vocabulary"),
        (_vectorize(oov=0), r"unknown word is id 1 \(\[UNK\]\), not 0"),
        (_vectorize(first=1), r"word k of the vocabulary gets id k \+ 2"),
        (_vectorize(pad_front=True), r"pads \(and truncates\) at the END"),
        (_vectorize(keep_last=True), r"keeps its FIRST `length` tokens"),
        (_vectorize(dim=3), r"input_dim should be 8"),
        (vectorize_in_place, r"modified its input `words` in place"),
        (lambda t, w, n: (vectorize(t, w, n)[0] * 1.5, len(w) + 2), r"whole numbers"),
    ],
    "8.3": [
        (masked_mean_all_steps, r"padded steps were averaged too"),
        (masked_mean_divide_T, r"divided by T"),
        (masked_mean_batch_count, r"real steps of the whole batch"),
        (masked_mean_keepdims, r"drop the kept time axis"),
        (masked_mean_in_place, r"modified its input `x` in place"),
        (lambda x, mask: x.sum(axis=1) / mask.sum(axis=1, keepdims=True), r"padded steps were summed too"),
    ],
    "8.4": [
        (_params("ignore_reset_after"), r"reset_after=True.*two bias vectors"),
        (_params("no_double"), r"Bidirectional holds two independent copies"),
        (_params("no_bias"), r"biases are missing"),
        (_params("always_two_biases"), r"reset_after=False the GRU has ONE bias vector"),
        (_params("one_block"), r"LSTM has 4 blocks"),
        (_params("rnn_with_output"), r"should be 130"),
    ],
    "8.6": [
        (decoder_same_step, r"targets themselves.*PREVIOUS target"),
        (decoder_shift_left, r"shifted LEFT"),
        (decoder_too_long, r"LAST target is dropped"),
        (decoder_first_only, r"only the first step was replaced"),
        (decoder_no_sos, r"start token <sos> = 1"),
        (decoder_in_place, r"modified its input `targets` in place"),
    ],
    "8.7": [
        (_bahdanau("axis"), r"softmax ran over the decoder steps"),
        (_bahdanau("raw"), r"before the softmax"),
        (_bahdanau("no_tanh"), r"tanh is missing"),
        (_bahdanau("no_v"), r"v is missing"),
        (_bahdanau("projected"), r"averages the encoder states h.*not their projections"),
        (_bahdanau("transposed"), r"shape \(2, 3, 5\).*decoder step, encoder position"),
    ],
    "8.5": [
        (_evaluate("on_test"), r"maximises J on the TEST set|tuned on the test set"),
        (_evaluate("half"), r"0.5 is the default threshold"),
        (_evaluate("accuracy"), r"maximises validation ACCURACY"),
        (_evaluate("strict"), r"score ≥ threshold"),
        (_evaluate("val_accuracy"), r"VALIDATION accuracy"),
        (_evaluate("ties_zero"), r"ties .* count ½"),
        (_evaluate("ties_one"), r"ties must count ½, not 1"),
        (evaluate_pooled, r"threshold (does not maximise|changed when only the TEST)"),
    ],
    "8.8": [
        (_decode("stop_at_sos"), r"ran on past <eos>.*not when it emits <sos>"),
        (_decode("keep_eos"), r"<eos> itself was returned"),
        (_decode("with_sos"), r"start token <sos> was returned"),
        (_decode("always_sos"), r"feed back the token predicted at the previous step"),
        (_decode("no_state"), r"feed back|not right"),
        (_decode("short"), r"one token too few"),
        (decode_after_eos, r"called again after it emitted <eos>"),
        (lambda *a: None, r"returned None"),
    ],
}

ACCEPT = {
    "8.1": [embed_gather, embed_tf, embed_float32],
    "8.2": [vectorize_tuple_list, vectorize_keras],
    "8.3": [masked_mean_float32, masked_mean_tf, masked_mean_where],
    "8.4": [rnn_params_table, rnn_params_float],
    "8.6": [decoder_inputs_roll, decoder_inputs_tf],
    "8.7": [bahdanau_float32, bahdanau_tf, bahdanau_loop],
    "8.5": [evaluate_sklearn, evaluate_ranks, evaluate_float32],
    "8.8": [greedy_decode_while, greedy_decode_tuple],
}

EQUIVALENT: dict[str, dict[str, str]] = {
    "8.2": {"L2 Sign flipped (x→−x): np.zeros((len(texts), length), dtype=np.int64)":
            "integer zeros negated are the same zeros"},
    "8.3": {"L1 Sign flipped (x→−x): mask[..., None].astype(x.dtype)":
            "the weights appear in the numerator and the denominator: −1 cancels in the ratio"},
    "8.5": {"L1 Call dropped: np.unique(val_scores)":
            "the candidates are then the validation scores unsorted (no ties in them): the argmax is still a "
            "score that maximises Youden's J, and any maximiser is accepted",
            "L2 Call dropped: np.array([np.mean(val_scores[val_labels == 1] >= t) for t...":
            "tpr stays a list; list − ndarray is the same elementwise difference",
            "L3 Call dropped: np.array([np.mean(val_scores[val_labels == 0] >= t) for t...":
            "fpr stays a list; ndarray − list is the same elementwise difference"},
    "8.7": {"L3 Transposed right operand: np.tanh(q + k) @ v": "v is 1-D: v.T is v",
            "L4 Sign flipped (x→−x): np.exp(scores - scores.max(axis=-1, keepdims=True))":
            "e appears in the numerator and the denominator of the softmax: −1 cancels in the ratio"},
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)
test_accepted_answer_passes = accept_tests(ACCEPT)
