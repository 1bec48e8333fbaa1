"""Checks for chapter 13 (capsules and few-shot learning).

Oracles: TensorFlow implementations written independently of the answers (``tf.norm``,
``tf.nn.softmax``, ``tf.einsum``) for squash, routing by agreement and the losses; invariants
(‖v‖ < 1, couplings summing to 1 over the parents, logits shifted by a per-query constant) and,
for the episode sampler, the procedure itself: properties of many episodes and an intervention
(relabelling the held-out classes must not change a single episode). The wrong variants written
here serve only to recognise a known mistake and name it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from helpers import tensorflow
from helpers.checks import as_array, assert_close, assert_each_close, call, exercise, fail, require, unpack

# --------------------------------------------------------------------------- 13.1 squash


def squash_oracle(s: np.ndarray) -> np.ndarray:
    """v = ‖s‖²/(1 + ‖s‖²) · s/‖s‖ over the last axis (0 for s = 0), by TensorFlow in float64."""
    tf = tensorflow()
    st = tf.constant(s, tf.float64)
    norm = tf.norm(st, axis=-1, keepdims=True)
    scale = tf.math.divide_no_nan(norm**2 / (1.0 + norm**2), norm)
    return (scale * st).numpy()


def _squash_inputs() -> list[np.ndarray]:
    rng = np.random.default_rng(1301)
    a = rng.standard_normal((2, 5, 8)) * np.exp(rng.uniform(-3, 3, (2, 5, 1)))  # norms 0.1 … 50
    a[0, 0] = 0.0                        # a zero vector: v = 0, no NaN
    a[0, 1] = 1e-4 * a[0, 1] / np.linalg.norm(a[0, 1])  # tiny: ‖v‖ ≈ ‖s‖²
    a[1, 2] *= 1e3 / np.linalg.norm(a[1, 2])            # huge: ‖v‖ → 1
    b = rng.standard_normal((3, 4, 16)) * 0.7
    c = rng.standard_normal((6, 3))
    return [a, b, c]


@exercise("13.1", "the squash non-linearity",
          "squash matches ‖s‖²/(1+‖s‖²)·s/‖s‖ along the last axis (zero, tiny and huge vectors)")
def ex_13_1(squash) -> None:
    for s in _squash_inputs():
        v = call(squash, s, name="squash")
        expected = squash_oracle(s)
        norm = np.linalg.norm(s, axis=-1, keepdims=True)
        safe = np.where(norm > 0, norm, 1.0)
        unit = s / safe
        hints = [
            (norm / (1 + norm) * unit, "you used ‖s‖ where ‖s‖² belongs: the scale is ‖s‖²/(1 + ‖s‖²), so a "
                                      "short vector shrinks to almost nothing (‖v‖ ≈ ‖s‖²)."),
            (norm**2 / (1 + norm**2) * s, "the unit vector s/‖s‖ is missing: ‖s‖²/(1 + ‖s‖²) multiplies s/‖s‖, not s."),
            (norm**2 / (1 + norm**2) * np.ones_like(s), "squash returns a vector in the direction of s, not its length."),
            (unit, "this is s/‖s‖ (unit length): the factor ‖s‖²/(1 + ‖s‖²) that keeps ‖v‖ < 1 is missing."),
        ]
        for axis in range(s.ndim - 1):
            n0 = np.linalg.norm(s, axis=axis, keepdims=True)
            hints.append((n0 / (1 + n0**2) * s, f"the norm is taken over the wrong axis ({axis}): each capsule's "
                                               "vector is the last axis (axis=-1)."))
        label = f"squash of an array of shape {s.shape}"
        got = assert_close(v, expected, label, rtol=1e-7, atol=1e-12, hints=hints)
        require(np.all(np.linalg.norm(got, axis=-1) < 1.0), f"{label}: some ‖v‖ ≥ 1; squash keeps lengths in [0, 1).")


# --------------------------------------------------------------------------- 13.2 routing by agreement


def routing_oracle(u_hat: np.ndarray, iterations: int, update: str = "agreement",
                   softmax_axis: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Dynamic routing (Sabour, Frosst & Hinton, 2017) by TensorFlow: (v [b, n_out, d], c [b, n_in, n_out]).
    ``update`` / ``softmax_axis`` other than the defaults give known mistakes (for hints only)."""
    tf = tensorflow()
    u = tf.constant(u_hat, tf.float64)
    logits = tf.zeros(u.shape[:3], tf.float64)
    for r in range(iterations):
        c = tf.nn.softmax(logits, axis=softmax_axis)
        s = tf.einsum("bij,bijd->bjd", c, u)
        v = tf.constant(squash_oracle(s.numpy()))
        if r < iterations - 1:
            if update == "agreement":
                logits = logits + tf.einsum("bijd,bjd->bij", u, v)
            elif update == "s":
                logits = logits + tf.einsum("bijd,bjd->bij", u, s)
            elif update == "length":
                logits = logits + tf.norm(v, axis=-1)[:, None, :]
            elif update == "replace":
                logits = tf.einsum("bijd,bjd->bij", u, v)
    return v.numpy(), c.numpy()


def _routing_inputs() -> list[np.ndarray]:
    rng = np.random.default_rng(1302)
    cases = []
    for batch, n_in, n_out, d in [(2, 6, 3, 4), (3, 10, 5, 8)]:
        u = rng.standard_normal((batch, n_in, n_out, d)) * 0.5
        # most inputs predict the same pose for parent 0: agreement must pull them to it
        u[:, : n_in - 2, 0, :] = 1.2 + 0.1 * rng.standard_normal((batch, n_in - 2, d))
        cases.append(u)
    return cases


@exercise("13.2", "routing by agreement",
          "routing matches Sabour et al.'s dynamic routing (softmax over parents, logits += û·v), "
          "1 and 3 iterations; couplings sum to 1 over parents")
def ex_13_2(routing) -> None:
    for u in _routing_inputs():
        batch, n_in, n_out, d = u.shape
        for iterations in (1, 2, 3):
            out = unpack(call(routing, u, iterations, name="routing"), "routing", ["v", "c"])
            v_exp, c_exp = routing_oracle(u, iterations)
            label = f"(û of shape {u.shape}, {iterations} iteration{'s' if iterations > 1 else ''})"
            c = as_array(out[1], f"c {label}", c_exp.shape)
            sums = c.sum(axis=2)
            if not np.allclose(sums, 1.0, atol=1e-4):
                if np.allclose(c.sum(axis=1), 1.0, atol=1e-4):
                    fail(f"c {label} sums to 1 over the INPUT capsules (axis 1); the softmax runs over the "
                         "parents j (axis 2): each child shares its output among the parents, Σ_j c_ij = 1.")
                fail(f"c {label} does not sum to 1 over the parents (axis 2): c_ij = softmax_j(b_ij).")
            v_hints, c_hints = [], []
            for update, text in [
                ("s", "the logits were updated with û·s, the input to squash; the agreement is û·v with the "
                      "squashed output v = squash(s)."),
                ("length", "the logits were updated with ‖v_j‖, the same for every child: the agreement is the "
                           "dot product û_{j|i}·v_j of each child's prediction with the parent's output."),
                ("replace", "the logits were replaced by the latest agreement; they accumulate: b_ij ← b_ij + û_{j|i}·v_j."),
            ]:
                if iterations > 2 or (iterations == 2 and update != "replace"):
                    wv, wc = routing_oracle(u, iterations, update)
                    v_hints.append((wv, text))
                    c_hints.append((wc, text))
            off = routing_oracle(u, iterations + 1)
            v_hints.append((off[0], "one routing iteration too many: with r iterations the logits are updated "
                                    "r − 1 times (the last v is returned, not used for another update)."))
            c_hints.append((off[1], "one routing iteration too many: with r iterations the logits are updated "
                                    "r − 1 times."))
            if iterations > 1:
                fewer = routing_oracle(u, iterations - 1)
                v_hints.append((fewer[0], "one routing iteration too few: the couplings must be recomputed after "
                                          "every logit update, r softmaxes in all."))
                c_hints.append((fewer[1], "these are the couplings of the previous iteration: return the c that "
                                          "produced the final v."))
            assert_each_close([
                (f"v {label}", out[0], v_exp, {"hints": v_hints, "index_names": ["example", "parent", "dim"]}),
                (f"c {label}", c, c_exp, {"hints": c_hints, "index_names": ["example", "child", "parent"]}),
            ], rtol=1e-6, atol=1e-9)
        # agreement raises the couplings to the parent the children agree on
        _, c3 = routing_oracle(u, 3)
        require(np.all(c3[:, : n_in - 2, 0] > 1.0 / n_out), "internal: agreement should raise c_i0")


# --------------------------------------------------------------------------- 13.3 margin loss

M_PLUS, M_MINUS, LAMBDA = 0.9, 0.1, 0.5


def margin_oracle(lengths: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per example Σ_k T_k max(0, m⁺ − ‖v_k‖)² + λ (1 − T_k) max(0, ‖v_k‖ − m⁻)², by TensorFlow."""
    tf = tensorflow()
    t = tf.one_hot(labels, lengths.shape[1], dtype=tf.float64)
    v = tf.constant(lengths, tf.float64)
    present = t * tf.nn.relu(M_PLUS - v) ** 2
    absent = LAMBDA * (1 - t) * tf.nn.relu(v - M_MINUS) ** 2
    return tf.reduce_sum(present + absent, axis=1).numpy()


@exercise("13.3", "the capsule margin loss",
          "margin loss per example matches Σ T max(0, 0.9 − ‖v‖)² + 0.5 (1 − T) max(0, ‖v‖ − 0.1)²")
def ex_13_3(margin_loss) -> None:
    rng = np.random.default_rng(1303)
    for batch, k in [(7, 10), (4, 3)]:
        lengths = rng.uniform(0.0, 1.0, (batch, k))
        labels = rng.integers(0, k, batch)
        lengths[0, labels[0]] = 0.95   # present and long enough: no loss
        lengths[1, labels[1]] = 0.3    # present but short
        lengths[0, (labels[0] + 1) % k] = 0.05  # absent and short enough: no loss
        out = call(margin_loss, lengths, labels, name="margin_loss")
        expected = margin_oracle(lengths, labels)
        t = np.eye(k)[labels]
        pos = np.maximum(0, M_PLUS - lengths)
        neg = np.maximum(0, lengths - M_MINUS)
        label = f"margin loss for a batch of {batch} with {k} classes"
        assert_close(out, expected, label, rtol=1e-7, atol=1e-12, index_names=["example"], hints=[
            ((t * pos**2 + (1 - t) * neg**2).sum(1), "λ = 0.5 down-weights the ABSENT classes' term; here it is missing."),
            ((LAMBDA * t * pos**2 + (1 - t) * neg**2).sum(1), "λ belongs on the absent classes' term (1 − T_k), "
                                                              "not on the present class's."),
            ((t * pos + LAMBDA * (1 - t) * neg).sum(1), "both hinge terms are squared: max(0, m⁺ − ‖v‖)²."),
            ((t * (M_PLUS - lengths) ** 2 + LAMBDA * (1 - t) * (lengths - M_MINUS) ** 2).sum(1),
             "the max(0, ·) is missing: a present capsule longer than m⁺ = 0.9 (or an absent one shorter than "
             "m⁻ = 0.1) must cost nothing."),
            ((t * pos**2 + LAMBDA * (1 - t) * neg**2).mean(1), "the loss is a sum over the classes, not a mean."),
            (((1 - t) * pos**2 + LAMBDA * t * neg**2).sum(1), "T_k and 1 − T_k are swapped: the present class is "
                                                              "pushed up to m⁺, the others down to m⁻."),
        ], factors={"K": float(k)})


# --------------------------------------------------------------------------- 13.4 episodes


def _episode_labels(seed: int, n_classes: int, per_class: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.permutation(np.repeat(np.arange(n_classes), per_class))


def _as_index(value: Any, name: str, shape: tuple[int, int], n: int) -> np.ndarray:
    arr = as_array(value, name, shape, allow_int=True)
    require(np.all(arr == np.round(arr)), f"{name} should hold integer indices into `labels`.")
    arr = arr.astype(np.int64)
    require(np.all((arr >= 0) & (arr < n)), f"{name} holds indices outside 0 … {n - 1}.")
    return arr


@exercise("13.4", "n-way k-shot episodes from allowed classes only",
          "episodes: n distinct allowed classes, k support + q query per class, disjoint, reproducible, "
          "random, and blind to the held-out classes")
def ex_13_4(sample_episode) -> None:
    for seed, n_classes, per_class, allowed, n_way, k_shot, n_query in [
            (0, 10, 12, np.array([0, 2, 3, 5, 7, 8]), 3, 2, 4),
            (1, 8, 9, np.array([6, 1, 4, 2]), 2, 5, 3)]:
        labels = _episode_labels(seed, n_classes, per_class)
        held_out = np.setdiff1d(np.arange(n_classes), allowed)
        chosen_classes, used = set(), set()
        where = f"(labels of {len(labels)} examples, allowed classes {allowed.tolist()}, {n_way}-way {k_shot}-shot, " \
                f"{n_query} queries)"
        for episode_seed in range(40):
            out = unpack(call(sample_episode, labels, allowed, n_way, k_shot, n_query, episode_seed,
                              name="sample_episode"), "sample_episode", ["support", "query"])
            support = _as_index(out[0], f"support {where}", (n_way, k_shot), len(labels))
            query = _as_index(out[1], f"query {where}", (n_way, n_query), len(labels))
            s_lab, q_lab = labels[support], labels[query]
            leaked = np.intersect1d(np.concatenate([s_lab.ravel(), q_lab.ravel()]), held_out)
            if leaked.size:
                fail(f"episode {episode_seed} {where} uses held-out class(es) {leaked.tolist()}: sample the "
                     "episode's classes from `classes` only — a test class in a training episode leaks it.")
            require(np.all(s_lab == s_lab[:, :1]), f"support row holds several classes {where}: row c must be k "
                                                   "examples of the episode's c-th class.")
            require(np.all(q_lab == s_lab[:, :1]), f"query row c is not of the same class as support row c {where}.")
            require(len(set(s_lab[:, 0].tolist())) == n_way, f"an episode {where} repeats a class: draw the n "
                                                             "classes without replacement.")
            every = np.concatenate([support.ravel(), query.ravel()])
            require(len(set(every.tolist())) == every.size, f"an example appears twice in episode {episode_seed} "
                    f"{where} (support and query overlap, or drawn with replacement): draw k + q distinct "
                    "examples per class, then split them.")
            chosen_classes.update(s_lab[:, 0].tolist())
            used.update(every.tolist())
            again = unpack(call(sample_episode, labels, allowed, n_way, k_shot, n_query, episode_seed,
                                name="sample_episode"), "sample_episode", ["support", "query"])
            require(np.array_equal(np.asarray(again[0]), support) and np.array_equal(np.asarray(again[1]), query),
                    f"the same seed gave a different episode {where}: draw from np.random.default_rng(seed).")
            # intervention: relabel the held-out examples; nothing may change
            # (new class ids, shuffled among the held-out examples)
            moved = labels.copy()
            mask = np.isin(labels, held_out)
            moved[mask] = 1000 + np.random.default_rng(episode_seed).permutation(labels[mask])
            if episode_seed < 10:
                other = unpack(call(sample_episode, moved, allowed, n_way, k_shot, n_query, episode_seed,
                                    name="sample_episode"), "sample_episode", ["support", "query"])
                require(np.array_equal(np.asarray(other[0]), support) and np.array_equal(np.asarray(other[1]), query),
                        f"the episode changed when only the examples of HELD-OUT classes were relabelled {where}: "
                        "the sampler looks at the test classes. Only the allowed classes' examples may matter.")
        require(chosen_classes == set(allowed.tolist()), f"over 40 episodes {where} only classes "
                f"{sorted(chosen_classes)} were chosen: choose n of the allowed classes at random per episode.")
        eligible = np.isin(labels, allowed).sum()
        require(len(used) > 0.6 * eligible, f"over 40 episodes {where} only {len(used)} of the {eligible} eligible "
                "examples were ever used: draw the examples of each class at random, not the first ones.")


# --------------------------------------------------------------------------- 13.6 prototypical logits


def proto_oracle(support: np.ndarray, support_labels: np.ndarray, query: np.ndarray, n_way: int) -> np.ndarray:
    """−‖f(x) − c_k‖² with c_k the mean of class k's support embeddings, by TensorFlow."""
    tf = tensorflow()
    protos = tf.math.unsorted_segment_mean(tf.constant(support, tf.float64), support_labels, n_way)
    diff = tf.constant(query, tf.float64)[:, None, :] - protos[None, :, :]
    return (-tf.reduce_sum(diff**2, axis=-1)).numpy()


def _proto_cases() -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    rng = np.random.default_rng(1305)
    cases = []
    for n_way, k_shot, n_query, d in [(3, 4, 7, 5), (5, 2, 4, 16)]:
        centres = rng.standard_normal((n_way, d)) * 3
        labels = rng.permutation(np.repeat(np.arange(n_way), k_shot))      # shuffled, not grouped
        support = centres[labels] + rng.standard_normal((n_way * k_shot, d))
        query = centres[rng.integers(0, n_way, n_query)] + rng.standard_normal((n_query, d))
        cases.append((support, labels, query, n_way))
    return cases


@exercise("13.6", "prototypical-network logits",
          "logits = −‖f(x) − c_k‖² with c_k the mean support embedding of class k; each query's logits "
          "depend on the support set alone")
def ex_13_6(proto_logits) -> None:
    for support, labels, query, n_way in _proto_cases():
        out = call(proto_logits, support, labels, query, n_way, name="proto_logits")
        expected = proto_oracle(support, labels, query, n_way)
        protos = np.stack([support[labels == k].mean(0) for k in range(n_way)])
        sq = ((query[:, None, :] - protos[None]) ** 2).sum(-1)
        grouped = support.reshape(n_way, -1, support.shape[1]).mean(1)
        label = f"logits for {len(query)} queries, {n_way}-way {len(labels) // n_way}-shot, {support.shape[1]}-d"
        got = as_array(out, label, expected.shape)
        # each query's logits must not depend on the other queries (prototypes from the support alone)
        perm = np.random.default_rng(len(query)).permutation(len(query))
        alone = call(proto_logits, support, labels, query[perm][:2], n_way, name="proto_logits")
        alone = as_array(alone, "logits for 2 queries", (2, n_way))
        if not np.allclose(alone, got[perm][:2], rtol=1e-5, atol=1e-5 * np.abs(got).max()):
            fail(f"{label}: a query's logits changed when the OTHER queries changed — the prototypes are being "
                 "computed from query points. Compute them from the support set alone.")
        assert_close(out, expected, label, rtol=1e-7, atol=1e-10, index_names=["query", "class"], hints=[
            (sq, "these are positive squared distances: a softmax over them favours the FARTHEST prototype. "
                 "Use −‖f(x) − c_k‖²."),
            (-np.sqrt(sq), "this is −‖f(x) − c_k‖ (not squared); prototypical networks use the squared Euclidean "
                           "distance (a Bregman divergence, so the class mean is the right prototype)."),
            (-((query[:, None, :] - grouped[None]) ** 2).sum(-1),
             "the prototypes were taken from consecutive blocks of the support set; the labels are shuffled — "
             "average the embeddings whose label is k."),
            (-((query[:, None, :] - np.stack([support[labels == k].sum(0) for k in range(n_way)])[None]) ** 2).sum(-1),
             "the prototype is the MEAN of a class's support embeddings, not their sum."),
        ])


# --------------------------------------------------------------------------- 13.7 prototypes as a linear layer


@exercise("13.7", "a prototypical network is a linear classifier",
          "W = 2cᵀ and b = −‖c‖²: x·W + b equals −‖x − c‖² up to −‖x‖², the same softmax")
def ex_13_7(proto_linear) -> None:
    rng = np.random.default_rng(1306)
    for n_way, d in [(4, 6), (3, 2), (10, 9)]:
        protos = rng.standard_normal((n_way, d)) * 2 + 1
        w, b = unpack(call(proto_linear, protos, name="proto_linear"), "proto_linear", ["W", "b"])
        label = f"for {n_way} prototypes in {d} dimensions"
        wt = as_array(w, f"W {label}")
        if wt.shape == (n_way, d) and n_way != d:
            fail(f"W {label} has shape {wt.shape}; it should be (d, n) = {(d, n_way)} so that logits = x @ W + b.")
        norms = (protos**2).sum(1)
        assert_each_close([
            (f"W {label}", w, 2 * protos.T, {"hints": [(protos.T, "W is missing the factor 2: −‖x − c‖² = 2 c·x − ‖c‖² − ‖x‖².")],
                                             "factors": {"2": 2.0}}),
            (f"b {label}", b, -norms, {"hints": [(norms, "b = −‖c_k‖² (with a minus sign)."),
                                                (-np.sqrt(norms), "b = −‖c_k‖², the SQUARED norm.")]}),
        ], rtol=1e-9, atol=1e-12)
        x = rng.standard_normal((5, d))
        logits = x @ (2 * protos.T) - norms
        direct = -((x[:, None] - protos[None]) ** 2).sum(-1)
        require(np.allclose(logits - direct, (x**2).sum(1, keepdims=True)), "internal: the identity")


# --------------------------------------------------------------------------- 13.8 matching networks


def matching_oracle(support: np.ndarray, onehot: np.ndarray, query: np.ndarray) -> np.ndarray:
    """P(y | x) = Σ_i softmax_i(cos(f(x), g(x_i))) y_i, by TensorFlow."""
    tf = tensorflow()
    s = tf.math.l2_normalize(tf.constant(support, tf.float64), axis=-1)
    q = tf.math.l2_normalize(tf.constant(query, tf.float64), axis=-1)
    attention = tf.nn.softmax(tf.matmul(q, s, transpose_b=True), axis=-1)
    return tf.matmul(attention, tf.constant(onehot, tf.float64)).numpy()


@exercise("13.8", "matching-network cosine attention",
          "P(y|x) = Σ_i softmax_i(cos(x, x_i)) y_i matches (cosine similarity, softmax over the support set)")
def ex_13_8(matching_probs) -> None:
    rng = np.random.default_rng(1307)
    for m, n_way, n_query, d in [(6, 3, 4, 5), (10, 5, 7, 12)]:
        support = rng.standard_normal((m, d)) * np.exp(rng.uniform(-2, 2, (m, 1)))  # very different norms
        query = rng.standard_normal((n_query, d)) * np.exp(rng.uniform(-2, 2, (n_query, 1)))
        labels = np.concatenate([np.arange(n_way), rng.integers(0, n_way, m - n_way)])
        onehot = np.eye(n_way)[labels]
        out = call(matching_probs, support, onehot, query, name="matching_probs")
        expected = matching_oracle(support, onehot, query)
        sn = support / np.linalg.norm(support, axis=1, keepdims=True)
        qn = query / np.linalg.norm(query, axis=1, keepdims=True)
        cos = qn @ sn.T

        def soft(z, axis=-1):
            e = np.exp(z - z.max(axis, keepdims=True))
            return e / e.sum(axis, keepdims=True)

        label = f"P(y|x) for {n_query} queries, {m} support examples, {n_way} classes"
        assert_close(out, expected, label, rtol=1e-7, atol=1e-10, index_names=["query", "class"], hints=[
            (soft(1 - cos) @ onehot, "you used the cosine DISTANCE 1 − cos as the similarity: the attention then "
                                     "favours the least similar support examples. Attend with cos itself."),
            (soft(query @ support.T) @ onehot, "the embeddings are not normalised: this is a dot product, not the "
                                               "cosine similarity (divide by both norms)."),
            (soft(query @ sn.T) @ onehot, "only the support embeddings are normalised; the cosine divides by the "
                                          "query's norm too."),
            (soft(cos, axis=0) @ onehot, "the softmax runs over the queries (axis 0); it must run over the support "
                                         "examples, one distribution per query."),
            (cos @ onehot, "the cosine similarities must go through a softmax over the support set."),
        ])


# --------------------------------------------------------------------------- 13.5 contrastive loss


def contrastive_oracle(z1: np.ndarray, z2: np.ndarray, same: np.ndarray, margin: float) -> float:
    """Mean over pairs of ½·y·d² + ½·(1 − y)·max(0, m − d)² (Hadsell, Chopra & LeCun, 2006), by TF."""
    tf = tensorflow()
    d = tf.norm(tf.constant(z1, tf.float64) - tf.constant(z2, tf.float64), axis=1)
    y = tf.constant(same, tf.float64)
    return float(tf.reduce_mean(0.5 * y * d**2 + 0.5 * (1 - y) * tf.nn.relu(margin - d) ** 2))


@exercise("13.5", "the contrastive loss of a siamese network",
          "contrastive loss matches mean ½ y d² + ½ (1 − y) max(0, m − d)² (y = 1 for a same-class pair)")
def ex_13_5(contrastive_loss) -> None:
    rng = np.random.default_rng(1308)
    for batch, d, margin in [(8, 3, 2.0), (5, 6, 1.0), (12, 2, 3.5)]:
        z1 = rng.standard_normal((batch, d))
        z2 = z1 + rng.standard_normal((batch, d)) * rng.uniform(0.1, 2.0, (batch, 1))
        same = np.resize([1.0, 0.0, 0.0], batch)
        same[-1] = 0.0
        z2[-1] = z1[-1] + margin * 1.5 / np.sqrt(d)   # a negative pair beyond the margin: no loss
        out = call(contrastive_loss, z1, z2, same, margin, name="contrastive_loss")
        expected = contrastive_oracle(z1, z2, same, margin)
        dist = np.linalg.norm(z1 - z2, axis=1)
        hinge = np.maximum(0, margin - dist)
        label = f"contrastive loss for {batch} pairs of {d}-d embeddings, margin {margin:g}"
        assert_close(out, expected, label, rtol=1e-7, atol=1e-12, hints=[
            (np.mean(0.5 * (1 - same) * dist**2 + 0.5 * same * hinge**2),
             "y and 1 − y are swapped: same-class pairs (y = 1) are pulled together by d², different ones pushed "
             "beyond the margin."),
            (np.mean(0.5 * same * dist**2 + 0.5 * (1 - same) * (margin - dist) ** 2),
             "the max(0, ·) is missing: a different-class pair already farther apart than the margin costs nothing."),
            (np.mean(0.5 * same * dist**2 + 0.5 * (1 - same) * np.maximum(0, margin - dist**2) ** 2),
             "the hinge uses the distance d, not its square: max(0, m − d)²."),
            (np.mean(0.5 * same * dist + 0.5 * (1 - same) * hinge),
             "both terms are squared: ½ y d² + ½ (1 − y) max(0, m − d)²."),
            (np.sum(0.5 * same * dist**2 + 0.5 * (1 - same) * hinge**2), "the loss is the MEAN over pairs, not the sum."),
        ], factors={"B": float(batch)})
