"""Chapter 12 checks: the reference answers pass, realistic wrong answers get specific hints,
correct answers written differently pass.

The reference functions here are the answers of solutions/12_gans.ipynb.
"""
import numpy as np

from conftest import accept_tests, check_tests


def _softplus(z):
    return np.logaddexp(0.0, z)


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


# --------------------------------------------------------------------------- 12.1
def optimal_discriminator(p_r, p_g):
    return p_r / (p_r + p_g)


def d_star_half(p_r, p_g):
    return np.full_like(p_r, 0.5)


def d_star_fake(p_r, p_g):
    return p_g / (p_r + p_g)


def d_star_ratio(p_r, p_g):
    return p_r / p_g


def d_star_global(p_r, p_g):
    return p_r / (p_r + p_g).sum()


def d_star_inplace(p_r, p_g):
    p_r /= p_r + p_g
    return p_r


def d_star_f32_list(p_r, p_g):
    a, b = np.float32(p_r), np.float32(p_g)
    return list(1.0 / (1.0 + b / a))


def d_star_tf(p_r, p_g):
    import tensorflow as tf
    return tf.math.divide(p_r, tf.math.add(p_r, p_g))


# --------------------------------------------------------------------------- 12.2
def js_divergence(p, q):
    m = 0.5 * (p + q)
    def kl(a, b):
        nz = a > 0
        return np.sum(a[nz] * np.log(a[nz] / b[nz]))
    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def js_bits(p, q):
    return js_divergence(p, q) / np.log(2)


def js_sum(p, q):
    return 2 * js_divergence(p, q)


def js_half(p, q):
    m = 0.5 * (p + q)
    nz = p > 0
    return 0.5 * np.sum(p[nz] * np.log(p[nz] / m[nz]))


def js_kl(p, q):
    nz = p > 0
    return np.sum(p[nz] * np.log(p[nz] / q[nz]))


def js_naive(p, q):
    m = 0.5 * (p + q)
    return 0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m))


def js_entropy(p, q):
    def h(a):
        a = np.asarray(a, np.float32)
        return -np.sum(np.where(a > 0, a * np.log(np.where(a > 0, a, 1)), 0))
    return h((np.asarray(p) + np.asarray(q)) / 2) - (h(p) + h(q)) / 2


def js_xlogy(p, q):
    from scipy.special import xlogy
    m = (p + q) / 2
    return float(0.5 * (xlogy(p, p) - xlogy(p, m)).sum() + 0.5 * (xlogy(q, q) - xlogy(q, m)).sum())


# --------------------------------------------------------------------------- 12.3
def d_loss(real_logits, fake_logits):
    # −log σ(l) = softplus(−l); −log(1 − σ(l)) = softplus(l)
    return np.mean(_softplus(-real_logits)) + np.mean(_softplus(fake_logits))


def d_loss_swapped(real_logits, fake_logits):
    return np.mean(_softplus(real_logits)) + np.mean(_softplus(-fake_logits))


def d_loss_probs_as_logits(real_logits, fake_logits):
    return d_loss(_sig(real_logits), _sig(fake_logits))


def d_loss_concat(real_logits, fake_logits):
    return np.mean(np.concatenate([_softplus(-real_logits), _softplus(fake_logits)]))


def d_loss_averaged(real_logits, fake_logits):
    return 0.5 * d_loss(real_logits, fake_logits)


def d_loss_naive(real_logits, fake_logits):
    with np.errstate(all="ignore"):
        return -np.mean(np.log(_sig(real_logits))) - np.mean(np.log(1 - _sig(fake_logits)))


def d_loss_keras(real_logits, fake_logits):
    import keras
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    r = np.asarray(real_logits, np.float32)[:, None]
    f = np.asarray(fake_logits, np.float32)[:, None]
    return bce(np.ones_like(r), r) + bce(np.zeros_like(f), f)


def d_loss_tf64(real_logits, fake_logits):
    import tensorflow as tf
    s = tf.nn.sigmoid_cross_entropy_with_logits
    return (tf.reduce_mean(s(labels=tf.ones_like(real_logits), logits=real_logits))
            + tf.reduce_mean(s(labels=tf.zeros_like(fake_logits), logits=fake_logits)))


# --------------------------------------------------------------------------- 12.4
def g_loss(fake_logits):
    return np.mean(_softplus(-fake_logits))          # −mean log D(G(z))


def g_loss_saturating(fake_logits):
    return -np.mean(_softplus(fake_logits))          # mean log(1 − D(G(z)))


def g_loss_d_term(fake_logits):
    return np.mean(_softplus(fake_logits))


def g_loss_probs(fake_logits):
    return g_loss(_sig(fake_logits))


def g_loss_naive(fake_logits):
    with np.errstate(all="ignore"):
        return -np.mean(np.log(_sig(fake_logits)))


def g_loss_keras(fake_logits):
    import keras
    f = np.asarray(fake_logits, np.float32)
    return keras.losses.binary_crossentropy(np.ones_like(f), f, from_logits=True)


def g_loss_stable_by_hand(fake_logits):
    z = -np.asarray(fake_logits)
    return float(np.mean(np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))))


# --------------------------------------------------------------------------- 12.5
def lsgan_losses(real_out, fake_out):
    d = 0.5 * np.mean((real_out - 1) ** 2) + 0.5 * np.mean(fake_out**2)
    g = 0.5 * np.mean((fake_out - 1) ** 2)
    return d, g


def ls_swapped(real_out, fake_out):
    d, g = lsgan_losses(real_out, fake_out)
    return g, d


def ls_d_targets(real_out, fake_out):
    return 0.5 * np.mean(real_out**2) + 0.5 * np.mean((fake_out - 1) ** 2), lsgan_losses(real_out, fake_out)[1]


def ls_sigmoid(real_out, fake_out):
    return lsgan_losses(_sig(real_out), _sig(fake_out))


def ls_g_sigmoid(real_out, fake_out):
    return lsgan_losses(real_out, fake_out)[0], 0.5 * np.mean((_sig(fake_out) - 1) ** 2)


def ls_concat(real_out, fake_out):
    return 0.5 * np.mean(np.concatenate([(real_out - 1) ** 2, fake_out**2])), lsgan_losses(real_out, fake_out)[1]


def ls_g_target0(real_out, fake_out):
    return lsgan_losses(real_out, fake_out)[0], 0.5 * np.mean(fake_out**2)


def ls_no_half(real_out, fake_out):
    d, g = lsgan_losses(real_out, fake_out)
    return 2 * d, 2 * g


def ls_keras_f32(real_out, fake_out):
    import keras
    mse = keras.losses.MeanSquaredError()
    r, f = np.float32(real_out), np.float32(fake_out)
    return [0.5 * mse(np.ones_like(r), r) + 0.5 * mse(np.zeros_like(f), f), 0.5 * mse(np.ones_like(f), f)]


def ls_loops(real_out, fake_out):
    d = 0.5 * sum((r - 1) ** 2 for r in real_out) / len(real_out) + 0.5 * sum(f * f for f in fake_out) / len(fake_out)
    return np.array([d, 0.5 * sum((f - 1) ** 2 for f in fake_out) / len(fake_out)])


# --------------------------------------------------------------------------- 12.6
def gradient_penalty(critic_grad, real, fake, eps, lam):
    x_hat = eps[:, None] * real + (1 - eps[:, None]) * fake
    norms = np.sqrt(np.sum(critic_grad(x_hat) ** 2, axis=1))
    return lam * np.mean((norms - 1) ** 2)


def gp_real_only(critic_grad, real, fake, eps, lam):
    return lam * np.mean((np.linalg.norm(critic_grad(real), axis=1) - 1) ** 2)


def gp_norm(critic_grad, real, fake, eps, lam):
    x_hat = eps[:, None] * real + (1 - eps[:, None]) * fake
    return lam * np.mean(np.linalg.norm(critic_grad(x_hat), axis=1))


def gp_norm_sq(critic_grad, real, fake, eps, lam):
    x_hat = eps[:, None] * real + (1 - eps[:, None]) * fake
    return lam * np.mean(np.sum(critic_grad(x_hat) ** 2, axis=1))


def gp_mean_norm(critic_grad, real, fake, eps, lam):
    x_hat = eps[:, None] * real + (1 - eps[:, None]) * fake
    return lam * (np.mean(np.linalg.norm(critic_grad(x_hat), axis=1)) - 1) ** 2


def gp_eps_swapped(critic_grad, real, fake, eps, lam):
    return gradient_penalty(critic_grad, fake, real, eps, lam)


def gp_l1(critic_grad, real, fake, eps, lam):
    x_hat = eps[:, None] * real + (1 - eps[:, None]) * fake
    return lam * np.mean((np.abs(critic_grad(x_hat)).sum(1) - 1) ** 2)


def gp_no_lambda(critic_grad, real, fake, eps, lam):
    return gradient_penalty(critic_grad, real, fake, eps, 10.0)


def gp_sum(critic_grad, real, fake, eps, lam):
    return len(real) * gradient_penalty(critic_grad, real, fake, eps, lam)


def gp_loop_f32(critic_grad, real, fake, eps, lam):
    total = np.float32(0)
    for r, f, e in zip(real, fake, eps):
        g = np.float32(critic_grad((e * r + (1 - e) * f)[None, :])[0])
        total += (np.linalg.norm(g) - np.float32(1)) ** 2
    return np.float32(lam) * total / np.float32(len(real))


def gp_tf(critic_grad, real, fake, eps, lam):
    import tensorflow as tf
    e = tf.reshape(tf.constant(eps), (-1, 1))
    x_hat = fake + e * (real - fake)
    g = tf.constant(critic_grad(x_hat.numpy()))
    return lam * tf.reduce_mean(tf.square(tf.norm(g, axis=1) - 1))


# --------------------------------------------------------------------------- 12.7
def _l1(a, b):
    return np.abs(a - b).sum(axis=1).mean()


def cyclegan_objective(adv_g, adv_f, x, y, G, F, lam):
    return adv_g + adv_f + lam * (_l1(F(G(x)), x) + _l1(G(F(y)), y))


def cyc_product(adv_g, adv_f, x, y, G, F, lam):
    return adv_g * adv_f * lam * (_l1(F(G(x)), x) + _l1(G(F(y)), y))


def cyc_squared(adv_g, adv_f, x, y, G, F, lam):
    return adv_g + adv_f + lam * (np.square(F(G(x)) - x).sum(1).mean() + np.square(G(F(y)) - y).sum(1).mean())


def cyc_one_way(adv_g, adv_f, x, y, G, F, lam):
    return adv_g + adv_f + lam * _l1(F(G(x)), x)


def cyc_wrong_order(adv_g, adv_f, x, y, G, F, lam):
    return adv_g + adv_f + lam * (_l1(G(F(x)), x) + _l1(F(G(y)), y))


def cyc_no_lambda(adv_g, adv_f, x, y, G, F, lam):
    return adv_g + adv_f + _l1(F(G(x)), x) + _l1(G(F(y)), y)


def cyc_coord_mean(adv_g, adv_f, x, y, G, F, lam):
    return adv_g + adv_f + lam * (np.abs(F(G(x)) - x).mean() + np.abs(G(F(y)) - y).mean())


def cyc_loops(adv_g, adv_f, x, y, G, F, lam):
    cx = sum(np.sum(np.abs(F(G(xi[None]))[0] - xi)) for xi in x) / len(x)
    cy = sum(np.sum(np.abs(G(F(yi[None]))[0] - yi)) for yi in y) / len(y)
    return np.float32(adv_g + adv_f + lam * cx + lam * cy)


def cyc_tf(adv_g, adv_f, x, y, G, F, lam):
    import tensorflow as tf
    cx = tf.reduce_mean(tf.norm(F(G(x)) - x, ord=1, axis=1))
    cy = tf.reduce_mean(tf.norm(G(F(y)) - y, ord=1, axis=1))
    return tf.add_n([tf.constant(adv_g, tf.float64), tf.constant(adv_f, tf.float64), lam * cx, lam * cy])


REFERENCE = {
    "12.1": (optimal_discriminator,),
    "12.2": (js_divergence,),
    "12.3": (d_loss,),
    "12.4": (g_loss,),
    "12.5": (lsgan_losses,),
    "12.6": (gradient_penalty,),
    "12.7": (cyclegan_objective,),
}

WRONG = {
    "12.1": [
        (d_star_half, r"½ only where p_r = p_g"),
        (d_star_fake, r"probability of FAKE"),
        (d_star_ratio, r"density ratio"),
        (d_star_global, r"pointwise"),
        (d_star_inplace, r"in place|modif|changed"),
    ],
    "12.2": [
        (js_bits, r"base 2"),
        (js_sum, r"MEAN of the two KLs"),
        (js_half, r"only ½ KL\(p‖m\)"),
        (js_kl, r"KL\(p‖q\)"),
        (js_naive, r"NaN"),
    ],
    "12.3": [
        (d_loss_swapped, r"labels are swapped"),
        (d_loss_probs_as_logits, r"sigmoid probabilities where logits"),
        (d_loss_concat, r"concatenated batch"),
        (d_loss_averaged, r"half the loss"),
        (d_loss_naive, r"inf|NaN"),
    ],
    "12.4": [
        (g_loss_saturating, r"SATURATING"),
        (g_loss_d_term, r"discriminator's term"),
        (g_loss_probs, r"sigmoid probabilities where logits"),
    ],
    "12.5": [
        (ls_swapped, r"d_loss.*losses are swapped"),
        (ls_d_targets, r"D's targets are swapped"),
        (ls_sigmoid, r"d_loss.*LINEAR output"),
        (ls_g_sigmoid, r"g_loss.*LINEAR output"),
        (ls_concat, r"concatenated batch"),
        (ls_g_target0, r"REAL label 1"),
        (ls_no_half, r"factor|2"),
    ],
    "12.6": [
        (gp_real_only, r"INTERPOLATES.*not at the real samples only"),
        (gp_norm, r"\(‖∇‖ − 1\)².*not ‖∇‖"),
        (gp_norm_sq, r"‖∇‖²"),
        (gp_mean_norm, r"square each sample"),
        (gp_eps_swapped, r"ε weights the REAL"),
        (gp_l1, r"Euclidean"),
        (gp_no_lambda, r"λ"),
        (gp_sum, r"factor|n"),
    ],
    "12.7": [
        (cyc_product, r"SUM.*not a product"),
        (cyc_squared, r"L1"),
        (cyc_one_way, r"both cycles"),
        (cyc_wrong_order, r"wrong way round"),
        (cyc_no_lambda, r"weighted by λ"),
        (cyc_coord_mean, r"sums over each sample's coordinates"),
    ],
}

ACCEPT = {
    "12.1": [d_star_f32_list, d_star_tf],
    "12.2": [js_entropy, js_xlogy],
    "12.3": [d_loss_keras, d_loss_tf64],
    "12.4": [g_loss_keras, g_loss_stable_by_hand],
    "12.5": [ls_keras_f32, ls_loops],
    "12.6": [gp_loop_f32, gp_tf],
    "12.7": [cyc_loops, cyc_tf],
}

EQUIVALENT = {
    "12.5": {"L1 Operands swapped: real_out - 1": "(a − b)² = (b − a)²",
             "L2 Operands swapped: fake_out - 1": "(a − b)² = (b − a)²"},
    "12.6": {"L3 Operands swapped: norms - 1": "(a − b)² = (b − a)²",
             "L3 In place on argument lam: return lam * np.mean((norms - 1) ** 2)":
                 "lam is a Python float: `lam *= ...` rebinds a local name, nothing the caller holds changes"},
    "12.7": {"L1 Operands swapped: F(G(x)) - x": "|a − b| = |b − a|",
             "L2 Operands swapped: G(F(y)) - y": "|a − b| = |b − a|"},
}

test_reference_passes, test_wrong_answer_rejected = check_tests(REFERENCE, WRONG)
test_accepted_answer_passes = accept_tests(ACCEPT)


def test_critic_grad_matches_autodiff():
    """The hand-written critic gradient handed to 12.6 answers is the autodiff gradient."""
    import tensorflow as tf

    from helpers.checks.ch12 import _critic_params, make_critic_grad

    x = np.random.default_rng(0).normal(size=(4, 3))
    w, b, v = _critic_params(3, 0)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = tf.reduce_sum(tf.linalg.matvec(tf.tanh(xt @ w + b), v))
    np.testing.assert_allclose(make_critic_grad(3, 0)(x), tape.gradient(out, xt).numpy(), rtol=1e-12)
