"""Chapter 13 checks: the reference answers pass, realistic wrong answers get specific hints,
correct answers written differently pass.

The reference functions here are the answers of solutions/13_capsules_few_shot.ipynb.
"""
import numpy as np

from conftest import accept_tests, check_tests


def _softmax(z, axis=-1):
    e = np.exp(z - z.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


# --------------------------------------------------------------------------- 13.1
def squash(s):
    n2 = np.sum(s**2, axis=-1, keepdims=True)
    return s * np.sqrt(n2) / (1.0 + n2)          # ‖s‖²/(1+‖s‖²) · s/‖s‖, safe at s = 0


def squash_norm_not_squared(s):
    n = np.linalg.norm(s, axis=-1, keepdims=True)
    return n / (1 + n) * s / np.where(n > 0, n, 1)


def squash_no_unit(s):
    n2 = np.sum(s**2, axis=-1, keepdims=True)
    return n2 / (1 + n2) * s


def squash_divides_by_zero(s):
    n = np.linalg.norm(s, axis=-1, keepdims=True)
    return n**2 / (1 + n**2) * s / n


def squash_axis0(s):
    n2 = np.sum(s**2, axis=0, keepdims=True)
    return s * np.sqrt(n2) / (1.0 + n2)


def squash_tf32(s):
    import tensorflow as tf
    s = tf.constant(s, tf.float32)
    n = tf.norm(s, axis=-1, keepdims=True)
    return tf.math.divide_no_nan(n**2, (1 + n**2) * n) * s


def squash_loops(s):
    out = np.zeros_like(s)
    for idx in np.ndindex(s.shape[:-1]):
        norm = float(np.sqrt(sum(x * x for x in s[idx])))
        if norm > 0:
            out[idx] = (norm**2 / (1 + norm**2)) * s[idx] / norm
    return out.tolist()


# --------------------------------------------------------------------------- 13.2
def routing(u_hat, iterations):
    b = np.zeros(u_hat.shape[:3])
    for r in range(iterations):
        c = _softmax(b, axis=2)                              # over the parents j
        s = np.einsum("bij,bijd->bjd", c, u_hat)
        v = squash(s)
        if r < iterations - 1:
            b = b + np.einsum("bijd,bjd->bij", u_hat, v)     # agreement û·v
    return v, c


def routing_wrong_axis(u_hat, iterations):
    b = np.zeros(u_hat.shape[:3])
    for r in range(iterations):
        c = _softmax(b, axis=1)
        v = squash(np.einsum("bij,bijd->bjd", c, u_hat))
        if r < iterations - 1:
            b = b + np.einsum("bijd,bjd->bij", u_hat, v)
    return v, c


def routing_update_with_s(u_hat, iterations):
    b = np.zeros(u_hat.shape[:3])
    for r in range(iterations):
        c = _softmax(b, axis=2)
        s = np.einsum("bij,bijd->bjd", c, u_hat)
        v = squash(s)
        if r < iterations - 1:
            b = b + np.einsum("bijd,bjd->bij", u_hat, s)
    return v, c


def routing_update_with_length(u_hat, iterations):
    b = np.zeros(u_hat.shape[:3])
    for r in range(iterations):
        c = _softmax(b, axis=2)
        v = squash(np.einsum("bij,bijd->bjd", c, u_hat))
        if r < iterations - 1:
            b = b + np.linalg.norm(v, axis=-1)[:, None, :]
    return v, c


def routing_replace(u_hat, iterations):
    b = np.zeros(u_hat.shape[:3])
    for r in range(iterations):
        c = _softmax(b, axis=2)
        v = squash(np.einsum("bij,bijd->bjd", c, u_hat))
        if r < iterations - 1:
            b = np.einsum("bijd,bjd->bij", u_hat, v)
    return v, c


def routing_extra_iteration(u_hat, iterations):
    b = np.zeros(u_hat.shape[:3])
    for _ in range(iterations):
        c = _softmax(b, axis=2)
        v = squash(np.einsum("bij,bijd->bjd", c, u_hat))
        b = b + np.einsum("bijd,bjd->bij", u_hat, v)
    c = _softmax(b, axis=2)
    return squash(np.einsum("bij,bijd->bjd", c, u_hat)), c


def routing_stale_c(u_hat, iterations):
    b = np.zeros(u_hat.shape[:3])
    c_prev = _softmax(b, axis=2)
    for r in range(iterations):
        c = _softmax(b, axis=2)
        v = squash(np.einsum("bij,bijd->bjd", c, u_hat))
        if r < iterations - 1:
            c_prev = c
            b = b + np.einsum("bijd,bjd->bij", u_hat, v)
    return v, c_prev


def routing_tf32(u_hat, iterations):
    import tensorflow as tf
    u = tf.constant(u_hat, tf.float32)
    b = tf.zeros(u.shape[:3])
    for r in range(iterations):
        c = tf.nn.softmax(b, axis=2)
        s = tf.reduce_sum(c[..., None] * u, axis=1)
        n = tf.norm(s, axis=-1, keepdims=True)
        v = n / (1 + n**2) * s
        if r < iterations - 1:
            b += tf.reduce_sum(u * v[:, None], axis=-1)
    return [v, c]


def routing_per_example(u_hat, iterations):
    vs, cs = [], []
    for u in u_hat:                                        # one example at a time, loops over parents
        n_in, n_out, _ = u.shape
        b = np.zeros((n_in, n_out))
        for r in range(iterations):
            c = np.exp(b) / np.exp(b).sum(1, keepdims=True)
            v = np.stack([squash(c[:, j] @ u[:, j, :]) for j in range(n_out)])
            if r + 1 < iterations:
                b = b + np.stack([u[:, j, :] @ v[j] for j in range(n_out)], axis=1)
        vs.append(v)
        cs.append(c)
    return np.array(vs), np.array(cs)


# --------------------------------------------------------------------------- 13.3
def margin_loss(lengths, labels):
    t = np.eye(lengths.shape[1])[labels]
    present = t * np.maximum(0.0, 0.9 - lengths) ** 2
    absent = 0.5 * (1 - t) * np.maximum(0.0, lengths - 0.1) ** 2
    return (present + absent).sum(axis=1)


def margin_no_lambda(lengths, labels):
    t = np.eye(lengths.shape[1])[labels]
    return (t * np.maximum(0, 0.9 - lengths) ** 2 + (1 - t) * np.maximum(0, lengths - 0.1) ** 2).sum(1)


def margin_lambda_on_present(lengths, labels):
    t = np.eye(lengths.shape[1])[labels]
    return (0.5 * t * np.maximum(0, 0.9 - lengths) ** 2 + (1 - t) * np.maximum(0, lengths - 0.1) ** 2).sum(1)


def margin_no_max(lengths, labels):
    t = np.eye(lengths.shape[1])[labels]
    return (t * (0.9 - lengths) ** 2 + 0.5 * (1 - t) * (lengths - 0.1) ** 2).sum(1)


def margin_mean(lengths, labels):
    return margin_loss(lengths, labels) / lengths.shape[1]


def margin_batch_mean(lengths, labels):
    return margin_loss(lengths, labels).mean()


def margin_tf32(lengths, labels):
    import tensorflow as tf
    v = tf.constant(lengths, tf.float32)
    t = tf.one_hot(labels, lengths.shape[1])
    return tf.reduce_sum(t * tf.square(tf.maximum(0.0, 0.9 - v))
                         + 0.5 * (1 - t) * tf.square(tf.maximum(0.0, v - 0.1)), axis=1)


def margin_loops(lengths, labels):
    out = []
    for row, y in zip(lengths, labels):
        total = 0.0
        for k, v in enumerate(row):
            total += max(0.0, 0.9 - v) ** 2 if k == y else 0.5 * max(0.0, v - 0.1) ** 2
        out.append(total)
    return out


# --------------------------------------------------------------------------- 13.4
def sample_episode(labels, classes, n_way, k_shot, n_query, seed):
    rng = np.random.default_rng(seed)
    chosen = rng.choice(classes, size=n_way, replace=False)
    support, query = [], []
    for c in chosen:
        picked = rng.permutation(np.flatnonzero(labels == c))[: k_shot + n_query]
        support.append(picked[:k_shot])
        query.append(picked[k_shot:])
    return np.array(support), np.array(query)


def episode_from_all_classes(labels, classes, n_way, k_shot, n_query, seed):
    return sample_episode(labels, np.unique(labels), n_way, k_shot, n_query, seed)


def episode_overlap(labels, classes, n_way, k_shot, n_query, seed):
    rng = np.random.default_rng(seed)
    chosen = rng.choice(classes, size=n_way, replace=False)
    support = [rng.choice(np.flatnonzero(labels == c), k_shot, replace=False) for c in chosen]
    query = [rng.choice(np.flatnonzero(labels == c), n_query, replace=False) for c in chosen]
    return np.array(support), np.array(query)


def episode_first_classes(labels, classes, n_way, k_shot, n_query, seed):
    rng = np.random.default_rng(seed)
    support, query = [], []
    for c in classes[:n_way]:
        picked = rng.permutation(np.flatnonzero(labels == c))[: k_shot + n_query]
        support.append(picked[:k_shot])
        query.append(picked[k_shot:])
    return np.array(support), np.array(query)


def episode_first_examples(labels, classes, n_way, k_shot, n_query, seed):
    rng = np.random.default_rng(seed)
    chosen = rng.choice(classes, size=n_way, replace=False)
    picked = [np.flatnonzero(labels == c)[: k_shot + n_query] for c in chosen]
    return np.array([p[:k_shot] for p in picked]), np.array([p[k_shot:] for p in picked])


def episode_global_rng(labels, classes, n_way, k_shot, n_query, seed):
    return sample_episode(labels, classes, n_way, k_shot, n_query, None)


def episode_unique_then_filter(labels, classes, n_way, k_shot, n_query, seed):
    """Shuffles every class of the split, then keeps the allowed ones: no held-out class is
    returned, but which classes are drawn depends on the held-out ones."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(np.unique(labels))
    chosen = [c for c in order if c in set(np.asarray(classes).tolist())][:n_way]
    support, query = [], []
    for c in chosen:
        picked = rng.permutation(np.flatnonzero(labels == c))[: k_shot + n_query]
        support.append(picked[:k_shot])
        query.append(picked[k_shot:])
    return np.array(support), np.array(query)


def episode_by_permutation(labels, classes, n_way, k_shot, n_query, seed):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))                   # one shuffle of the split, then per class
    chosen = rng.permutation(np.asarray(classes))[:n_way]
    rows = [order[labels[order] == c][: k_shot + n_query] for c in chosen]
    return [r[:k_shot].tolist() for r in rows], [r[k_shot:].tolist() for r in rows]


def episode_tf(labels, classes, n_way, k_shot, n_query, seed):
    import tensorflow as tf
    g = tf.random.Generator.from_seed(seed)
    chosen = tf.gather(classes, tf.argsort(g.uniform([len(classes)])))[:n_way].numpy()
    support, query = [], []
    for c in chosen:
        idx = np.flatnonzero(labels == c)
        idx = idx[tf.argsort(g.uniform([len(idx)])).numpy()][: k_shot + n_query]
        support.append(idx[:k_shot])
        query.append(idx[k_shot:])
    return tf.constant(np.array(support)), tf.constant(np.array(query))


# --------------------------------------------------------------------------- 13.6
def proto_logits(support, support_labels, query, n_way):
    protos = np.stack([support[support_labels == k].mean(axis=0) for k in range(n_way)])
    return -((query[:, None, :] - protos[None, :, :]) ** 2).sum(axis=-1)


def proto_positive(support, support_labels, query, n_way):
    return -proto_logits(support, support_labels, query, n_way)


def proto_not_squared(support, support_labels, query, n_way):
    return -np.sqrt(-proto_logits(support, support_labels, query, n_way))


def proto_grouped(support, support_labels, query, n_way):
    protos = support.reshape(n_way, -1, support.shape[1]).mean(1)
    return -((query[:, None, :] - protos[None]) ** 2).sum(-1)


def proto_from_queries(support, support_labels, query, n_way):
    """Refines the prototypes with the queries nearest to them (uses query points)."""
    protos = np.stack([support[support_labels == k].mean(axis=0) for k in range(n_way)])
    nearest = np.argmin(((query[:, None] - protos[None]) ** 2).sum(-1), axis=1)
    refined = np.stack([np.vstack([support[support_labels == k], query[nearest == k]]).mean(0) for k in range(n_way)])
    return -((query[:, None, :] - refined[None]) ** 2).sum(-1)


def proto_tf32(support, support_labels, query, n_way):
    import tensorflow as tf
    protos = tf.math.unsorted_segment_mean(tf.constant(support, tf.float32), support_labels, n_way)
    q = tf.constant(query, tf.float32)
    return -(tf.reduce_sum(q**2, 1, keepdims=True) - 2 * q @ tf.transpose(protos)
             + tf.reduce_sum(protos**2, 1)[None, :])


def proto_onehot_matmul(support, support_labels, query, n_way):
    onehot = np.eye(n_way)[support_labels]
    protos = (onehot.T @ support) / onehot.sum(0)[:, None]
    return [[-float(np.dot(q - c, q - c)) for c in protos] for q in query]


# --------------------------------------------------------------------------- 13.7
def proto_linear(prototypes):
    W = 2.0 * prototypes.T
    b = -np.sum(prototypes**2, axis=1)
    return W, b


def proto_linear_no_two(prototypes):
    return prototypes.T, -np.sum(prototypes**2, axis=1)


def proto_linear_plus_b(prototypes):
    return 2 * prototypes.T, np.sum(prototypes**2, axis=1)


def proto_linear_untransposed(prototypes):
    return 2 * prototypes, -np.sum(prototypes**2, axis=1)


def proto_linear_norm_b(prototypes):
    return 2 * prototypes.T, -np.linalg.norm(prototypes, axis=1)


def proto_linear_tf32(prototypes):
    import tensorflow as tf
    c = tf.constant(prototypes, tf.float32)
    return tf.transpose(c) * 2, -tf.reduce_sum(tf.square(c), axis=1)


def proto_linear_list(prototypes):
    return [np.array([[2 * c[i] for c in prototypes] for i in range(prototypes.shape[1])]),
            np.array([-float(c @ c) for c in prototypes])]


# --------------------------------------------------------------------------- 13.8
def matching_probs(support, support_onehot, query):
    s = support / np.linalg.norm(support, axis=1, keepdims=True)
    q = query / np.linalg.norm(query, axis=1, keepdims=True)
    attention = _softmax(q @ s.T, axis=1)       # over the support examples
    return attention @ support_onehot


def matching_cosine_distance(support, support_onehot, query):
    s = support / np.linalg.norm(support, axis=1, keepdims=True)
    q = query / np.linalg.norm(query, axis=1, keepdims=True)
    return _softmax(1 - q @ s.T, axis=1) @ support_onehot


def matching_dot(support, support_onehot, query):
    return _softmax(query @ support.T, axis=1) @ support_onehot


def matching_support_only(support, support_onehot, query):
    s = support / np.linalg.norm(support, axis=1, keepdims=True)
    return _softmax(query @ s.T, axis=1) @ support_onehot


def matching_wrong_axis(support, support_onehot, query):
    s = support / np.linalg.norm(support, axis=1, keepdims=True)
    q = query / np.linalg.norm(query, axis=1, keepdims=True)
    return _softmax(q @ s.T, axis=0) @ support_onehot


def matching_no_softmax(support, support_onehot, query):
    s = support / np.linalg.norm(support, axis=1, keepdims=True)
    q = query / np.linalg.norm(query, axis=1, keepdims=True)
    return (q @ s.T) @ support_onehot


def matching_tf32(support, support_onehot, query):
    import tensorflow as tf
    s = tf.math.l2_normalize(tf.constant(support, tf.float32), axis=1)
    q = tf.math.l2_normalize(tf.constant(query, tf.float32), axis=1)
    return tf.nn.softmax(tf.einsum("qd,md->qm", q, s)) @ tf.constant(support_onehot, tf.float32)


def matching_loops(support, support_onehot, query):
    out = []
    for x in query:
        sims = [float(x @ s / (np.linalg.norm(x) * np.linalg.norm(s))) for s in support]
        w = np.exp(np.array(sims) - max(sims))
        out.append(list((w / w.sum()) @ support_onehot))
    return out


# --------------------------------------------------------------------------- 13.5
def contrastive_loss(z1, z2, same, margin):
    d = np.linalg.norm(z1 - z2, axis=1)
    loss = 0.5 * same * d**2 + 0.5 * (1 - same) * np.maximum(0.0, margin - d) ** 2
    return loss.mean()


def contrastive_swapped(z1, z2, same, margin):
    return contrastive_loss(z1, z2, 1 - same, margin)


def contrastive_no_max(z1, z2, same, margin):
    d = np.linalg.norm(z1 - z2, axis=1)
    return np.mean(0.5 * same * d**2 + 0.5 * (1 - same) * (margin - d) ** 2)


def contrastive_squared_hinge(z1, z2, same, margin):
    d2 = np.sum((z1 - z2) ** 2, axis=1)
    return np.mean(0.5 * same * d2 + 0.5 * (1 - same) * np.maximum(0, margin - d2) ** 2)


def contrastive_sum(z1, z2, same, margin):
    return contrastive_loss(z1, z2, same, margin) * len(same)


def contrastive_no_half(z1, z2, same, margin):
    return 2 * contrastive_loss(z1, z2, same, margin)


def contrastive_tf32(z1, z2, same, margin):
    import tensorflow as tf
    d = tf.norm(tf.constant(z1 - z2, tf.float32), axis=1)
    y = tf.constant(same, tf.float32)
    return tf.reduce_mean(y * d**2 / 2 + (1 - y) * tf.nn.relu(margin - d) ** 2 / 2)


def contrastive_loops(z1, z2, same, margin):
    total = 0.0
    for a, b, y in zip(z1, z2, same):
        d = float(np.sqrt(np.sum((a - b) ** 2)))
        total += 0.5 * d * d if y == 1 else 0.5 * max(0.0, margin - d) ** 2
    return total / len(same)


REFERENCE = {
    "13.1": squash,
    "13.2": routing,
    "13.3": margin_loss,
    "13.4": sample_episode,
    "13.6": proto_logits,
    "13.7": proto_linear,
    "13.8": matching_probs,
    "13.5": contrastive_loss,
}

WRONG = {
    "13.1": [
        (squash_norm_not_squared, r"‖s‖ where ‖s‖² belongs"),
        (squash_no_unit, r"unit vector s/‖s‖ is missing"),
        (squash_divides_by_zero, r"NaN"),
        (squash_axis0, r"wrong axis"),
    ],
    "13.2": [
        (routing_wrong_axis, r"sums to 1 over the INPUT capsules"),
        (routing_update_with_s, r"û·s, the input to squash"),
        (routing_update_with_length, r"‖v_j‖, the same for every child"),
        (routing_replace, r"replaced by the latest agreement"),
        (routing_extra_iteration, r"one routing iteration too many"),
        (routing_stale_c, r"couplings of the previous iteration"),
    ],
    "13.3": [
        (margin_no_lambda, r"λ = 0.5 .*missing"),
        (margin_lambda_on_present, r"λ belongs on the absent"),
        (margin_no_max, r"max\(0, ·\) is missing"),
        (margin_mean, r"factor of 1/K|sum over the classes"),
        (margin_batch_mean, r"shape \(7,\)"),
    ],
    "13.4": [
        (episode_from_all_classes, r"held-out class"),
        (episode_overlap, r"appears twice"),
        (episode_first_classes, r"only classes .* were chosen"),
        (episode_first_examples, r"only \d+ of the \d+ eligible"),
        (episode_global_rng, r"same seed gave a different episode"),
        (episode_unique_then_filter, r"HELD-OUT classes were relabelled"),
    ],
    "13.6": [
        (proto_positive, r"positive squared distances"),
        (proto_not_squared, r"not squared"),
        (proto_grouped, r"labels are shuffled"),
        (proto_from_queries, r"computed from query points"),
    ],
    "13.7": [
        (proto_linear_no_two, r"missing the factor 2"),
        (proto_linear_plus_b, r"minus sign"),
        (proto_linear_untransposed, r"should be \(d, n\)"),
        (proto_linear_norm_b, r"SQUARED norm"),
    ],
    "13.8": [
        (matching_cosine_distance, r"cosine DISTANCE"),
        (matching_dot, r"not normalised"),
        (matching_support_only, r"query's norm"),
        (matching_wrong_axis, r"over the queries"),
        (matching_no_softmax, r"through a softmax"),
    ],
    "13.5": [
        (contrastive_swapped, r"swapped"),
        (contrastive_no_max, r"max\(0, ·\) is missing"),
        (contrastive_squared_hinge, r"not its square"),
        (contrastive_sum, r"MEAN over pairs"),
        (contrastive_no_half, r"factor of 2"),
    ],
}

ACCEPT = {
    "13.1": [squash_tf32, squash_loops],
    "13.2": [routing_tf32, routing_per_example],
    "13.3": [margin_tf32, margin_loops],
    "13.4": [episode_by_permutation, episode_tf],
    "13.6": [proto_tf32, proto_onehot_matmul],
    "13.7": [proto_linear_tf32, proto_linear_list],
    "13.8": [matching_tf32, matching_loops],
    "13.5": [contrastive_tf32, contrastive_loops],
}

EQUIVALENT = {
    "13.2": {
        "L1 Sign flipped (x→−x): np.zeros(u_hat.shape[:3])": "−0 is 0: the logits start at zero either way",
        "L3 axis dropped: softmax_np(b, axis=2)": "softmax_np's default axis −1 is axis 2 of the 3-d logits",
        "L6 Compare Lt→LtE: r < iterations - 1": "the extra update comes after the last v and c: never used",
        "L7 In place (x = x op d → x op= d): b = b + np.einsum(\"bijd,bjd->bij\", u_hat, v)":
            "b is the answer's own array (made by np.zeros), so updating it in place changes nothing else",
        "L6 BinOp Sub→Add: iterations - 1": "r < iterations + 1 always holds: one more update after the last v, unused",
        "L6 Term dropped (right): iterations - 1": "r < iterations always holds: one more update after the last v, unused",
        "L6 Constant 1→0: iterations - 1": "r < iterations always holds: one more update after the last v, unused",
    },
    "13.4": {
        "L8 Call dropped: np.array(support)": "a list of equal-length index arrays is accepted as the (n_way, k_shot) array",
        "L8 Call dropped: np.array(query)": "a list of equal-length index arrays is accepted as the (n_way, n_query) array",
    },
    "13.5": {
        "L1 Operands swapped: z1 - z2": "‖z1 − z2‖ = ‖z2 − z1‖",
    },
    "13.6": {
        "L2 Operands swapped: query[:, None, :] - protos[None, :, :]": "the difference is squared: (a − b)² = (b − a)²",
    },
    "13.8": {
        "L3 axis dropped: softmax_np(q @ s.T, axis=1)": "softmax_np's default axis −1 is axis 1 of the 2-d similarities",
    },
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)
test_accepted_answer_passes = accept_tests(ACCEPT)
