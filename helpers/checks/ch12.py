"""Checks for chapter 12 (generative adversarial networks).

Oracles: the pointwise maximiser of p_r log D + p_g log(1 − D) found by a dense grid search (12.1);
scipy's ``jensenshannon`` (squared, natural log) for 12.2; ``tf.nn.sigmoid_cross_entropy_with_logits``
for the logit losses (12.3, 12.4); ``tf.GradientTape`` through a small TF critic for the gradient
penalty (12.6); direct sums for LSGAN (12.5) and the CycleGAN objective (12.7). The wrong variants
written here serve only to recognise a known mistake and name it.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from helpers import tensorflow
from helpers.checks import assert_close, call, exercise, unpack


def _gauss(x: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


# --------------------------------------------------------------------------- 12.1 optimal D


def optimal_d_oracle(p_r: np.ndarray, p_g: np.ndarray) -> np.ndarray:
    """argmax over D ∈ (0, 1) of p_r log D + p_g log(1 − D), by a grid of 200,001 values refined once."""
    grid = np.linspace(1e-6, 1 - 1e-6, 200_001)
    out = np.empty_like(p_r, dtype=np.float64)
    for i, (a, b) in enumerate(zip(np.ravel(p_r), np.ravel(p_g))):
        d = grid[np.argmax(a * np.log(grid) + b * np.log1p(-grid))]
        fine = np.clip(np.linspace(d - 1e-5, d + 1e-5, 2001), 1e-12, 1 - 1e-12)
        out.flat[i] = fine[np.argmax(a * np.log(fine) + b * np.log1p(-fine))]
    return out


@exercise("12.1", "the optimal discriminator",
          "D*(x) = p_r(x) / (p_r(x) + p_g(x)) for Gaussians and a mixture on two grids")
def ex_12_1(optimal_discriminator) -> None:
    cases = [(np.linspace(-3, 4, 9), (0.0, 1.0), (1.5, 0.7)),
             (np.linspace(-2, 2, 14), (-0.5, 0.5), (0.5, 1.5))]
    for x, (m1, s1), (m2, s2) in cases:
        p_r = _gauss(x, m1, s1)
        p_g = 0.5 * _gauss(x, m2, s2) + 0.5 * _gauss(x, -m2, s2)
        d = call(optimal_discriminator, p_r, p_g, name="optimal_discriminator")
        expected = p_r / (p_r + p_g)
        grid = optimal_d_oracle(p_r, p_g)
        assert np.allclose(grid, expected, atol=1e-6), "oracle disagreement"  # the formula is the maximiser
        assert_close(d, expected, f"D* on {len(x)} points", rtol=1e-6, atol=1e-9, hints=[
            (np.full_like(expected, 0.5), "D* = ½ only where p_r = p_g (at the end of a perfect training); in "
                                          "general D*(x) = p_r(x) / (p_r(x) + p_g(x))."),
            (p_g / (p_r + p_g), "you returned p_g / (p_r + p_g), the probability of FAKE; D is the probability "
                                "that x is real: p_r / (p_r + p_g)."),
            (p_r / p_g, "p_r / p_g is the density ratio, not a probability; D* = p_r / (p_r + p_g)."),
            (p_r / (p_r + p_g).sum(), "normalise pointwise: D*(x) = p_r(x) / (p_r(x) + p_g(x)) at each x, "
                                      "not by a sum over the grid."),
        ], index_names=["point"])


# --------------------------------------------------------------------------- 12.2 JS divergence


def js_oracle(p: np.ndarray, q: np.ndarray) -> float:
    """scipy's Jensen–Shannon distance, squared: the divergence, in nats."""
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(p, q)) ** 2


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    mask = p > 0
    with np.errstate(divide="ignore"):
        return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


@exercise("12.2", "Jensen–Shannon divergence",
          "JS(p ‖ q) in nats matches scipy, log 2 for disjoint supports, 0 for p = q")
def ex_12_2(js_divergence) -> None:
    rng = np.random.default_rng(12)
    p1 = rng.dirichlet(np.ones(6)); q1 = rng.dirichlet(np.ones(6))
    p2 = np.array([0.5, 0.5, 0.0, 0.0, 0.0]); q2 = np.array([0.0, 0.0, 0.2, 0.3, 0.5])   # disjoint
    p3 = np.array([0.7, 0.3, 0.0, 0.0]); q3 = np.array([0.1, 0.2, 0.3, 0.4])           # zeros in p only
    for p, q, label in [(p1, q1, "two random distributions on 6 outcomes"),
                        (p2, q2, "disjoint supports"),
                        (p3, q3, "p with zero entries"),
                        (q1, q1, "p = q")]:
        value = call(js_divergence, p, q, name="js_divergence")
        expected = js_oracle(p, q)
        m = 0.5 * (p + q)
        hints = [
            (expected / np.log(2), "you used log base 2 (bits); the GAN identity V(D*) = −log 4 + 2 JS uses "
                                   "natural logarithms (nats), so disjoint supports give log 2 ≈ 0.693."),
            (_kl(p, m) + _kl(q, m), "JS is the MEAN of the two KLs to the mixture, ½ KL(p‖m) + ½ KL(q‖m), not their sum."),
            (0.5 * _kl(p, m), "you have only ½ KL(p‖m); add ½ KL(q‖m)."),
        ]
        if label == "two random distributions on 6 outcomes":
            hints.append((_kl(p, q), "this is KL(p‖q); JS compares both with the mixture m = (p + q)/2."))
        assert_close(value, expected, f"JS for {label}", rtol=1e-7, atol=1e-10, hints=hints)


# --------------------------------------------------------------------------- logit losses


def _bce_logits(labels: np.ndarray, logits: np.ndarray) -> np.ndarray:
    tf = tensorflow()
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.constant(labels, tf.float64),
                                                   logits=tf.constant(logits, tf.float64)).numpy()


def _logit_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1212)
    real = np.concatenate([rng.normal(1.0, 2.0, 5), [40.0, -35.0]])        # large logits: stability
    fake = np.concatenate([rng.normal(-1.0, 2.0, 10), [-60.0, 40.0, 0.0]])  # a different batch size
    return [(real, fake), (rng.normal(0.5, 1.0, 3), rng.normal(-0.5, 1.0, 4))]


def _sig(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@exercise("12.3", "discriminator loss from logits",
          "D's loss = mean BCE(1, real logits) + mean BCE(0, fake logits), stable for logits of ±60")
def ex_12_3(d_loss) -> None:
    for real, fake in _logit_cases():
        value = call(d_loss, real, fake, name="d_loss")
        expected = _bce_logits(np.ones_like(real), real).mean() + _bce_logits(np.zeros_like(fake), fake).mean()
        both = np.concatenate([real, fake])
        hints = [
            (_bce_logits(np.zeros_like(real), real).mean() + _bce_logits(np.ones_like(fake), fake).mean(),
             "real and fake labels are swapped: real samples get label 1, generated ones label 0."),
            (_bce_logits(np.ones_like(real), _sig(real)).mean() + _bce_logits(np.zeros_like(fake), _sig(fake)).mean(),
             "you passed sigmoid probabilities where logits are expected (sigmoid applied twice); give the raw "
             "logits to the from-logits cross-entropy."),
            (_bce_logits(np.concatenate([np.ones_like(real), np.zeros_like(fake)]), both).mean(),
             "you averaged over the concatenated batch; with batches of different sizes that weights the larger "
             "one more — take the mean over real and the mean over fake, and add them."),
            (0.5 * expected, "that is half the loss; add the two means, do not average them."),
        ]
        assert_close(value, expected, f"D loss for {len(real)} real and {len(fake)} fake logits", rtol=1e-7,
                     atol=1e-10, hints=hints)


@exercise("12.4", "the non-saturating generator loss",
          "G's loss = −mean log D(G(z)) = mean softplus(−logit), stable for logits of ±60")
def ex_12_4(g_loss) -> None:
    for _, fake in _logit_cases():
        value = call(g_loss, fake, name="g_loss")
        expected = _bce_logits(np.ones_like(fake), fake).mean()
        hints = [
            (-_bce_logits(np.zeros_like(fake), fake).mean(),
             "this is the SATURATING loss mean log(1 − D(G(z))): its gradient vanishes when D rejects the samples "
             "(D → 0); the non-saturating loss is −mean log D(G(z))."),
            (_bce_logits(np.zeros_like(fake), fake).mean(),
             "this is the discriminator's term (label 0 for fakes); the generator wants its samples labelled "
             "REAL: −mean log D(G(z))."),
            (_bce_logits(np.ones_like(fake), _sig(fake)).mean(),
             "you passed sigmoid probabilities where logits are expected (sigmoid applied twice)."),
        ]
        assert_close(value, expected, f"G loss for {len(fake)} fake logits", rtol=1e-7, atol=1e-10, hints=hints)


# --------------------------------------------------------------------------- 12.5 LSGAN


@exercise("12.5", "LSGAN losses",
          "(d_loss, g_loss) = (½E(D(x)−1)² + ½E D(G(z))², ½E(D(G(z))−1)²) for batches of two sizes")
def ex_12_5(lsgan_losses) -> None:
    rng = np.random.default_rng(5)
    for n_r, n_f in [(6, 9), (4, 3)]:
        real_out = rng.normal(0.6, 0.8, n_r)
        fake_out = rng.normal(0.2, 0.8, n_f)
        d, g = unpack(call(lsgan_losses, real_out, fake_out, name="lsgan_losses"), "lsgan_losses",
                      ["d_loss", "g_loss"])
        exp_d = 0.5 * np.mean((real_out - 1) ** 2) + 0.5 * np.mean(fake_out**2)
        exp_g = 0.5 * np.mean((fake_out - 1) ** 2)
        label = f"({n_r} real, {n_f} fake outputs)"
        swapped = "the generator and discriminator losses are swapped: D pushes real outputs to 1 and fake to 0; G pushes fake outputs to 1."
        assert_close(d, exp_d, f"d_loss {label}", rtol=1e-7, atol=1e-10, hints=[
            (exp_g, swapped),
            (0.5 * np.mean(real_out**2) + 0.5 * np.mean((fake_out - 1) ** 2), "D's targets are swapped: real → 1, fake → 0."),
            (0.5 * np.mean((_sig(real_out) - 1) ** 2) + 0.5 * np.mean(_sig(fake_out) ** 2),
             "LSGAN's D has a LINEAR output: the squares apply to the raw outputs, no sigmoid."),
            (0.5 * np.mean(np.concatenate([(real_out - 1) ** 2, fake_out**2])),
             "you averaged over the concatenated batch; take the mean over real and the mean over fake."),
        ])
        assert_close(g, exp_g, f"g_loss {label}", rtol=1e-7, atol=1e-10, hints=[
            (exp_d, swapped),
            (0.5 * np.mean((_sig(fake_out) - 1) ** 2), "LSGAN's D has a LINEAR output: no sigmoid."),
            (0.5 * np.mean(fake_out**2), "G's target is the REAL label 1: ½ E (D(G(z)) − 1)²."),
        ])


# --------------------------------------------------------------------------- 12.6 WGAN-GP


def _critic_params(dim: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.8, (dim, 8)), rng.normal(0, 0.5, 8), rng.normal(0, 1.0, 8)


def make_critic_grad(dim: int, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """∇ₓ f(x) for each row of x, f(x) = v · tanh(x W + b), written by hand (the oracle uses autodiff)."""
    w, b, v = _critic_params(dim, seed)

    def critic_grad(x: np.ndarray) -> np.ndarray:
        """Gradient of the critic with respect to each input row, shape like x."""
        h = np.tanh(np.asarray(x, np.float64) @ w + b)
        return ((1 - h**2) * v) @ w.T

    return critic_grad


def gp_oracle(dim: int, seed: int, real: np.ndarray, fake: np.ndarray, eps: np.ndarray, lam: float) -> float:
    """λ · mean over the batch of (‖∇ f(x̂)‖₂ − 1)², x̂ = ε x + (1 − ε) x̃, through tf.GradientTape."""
    tf = tensorflow()
    w, b, v = (tf.constant(a) for a in _critic_params(dim, seed))
    xh = tf.constant(eps[:, None] * real + (1 - eps[:, None]) * fake)
    with tf.GradientTape() as tape:
        tape.watch(xh)
        out = tf.reduce_sum(tf.linalg.matvec(tf.tanh(xh @ w + b), v))
    g = tape.gradient(out, xh)
    return float(lam * tf.reduce_mean((tf.norm(g, axis=1) - 1.0) ** 2))


@exercise("12.6", "the WGAN-GP gradient penalty",
          "λ·mean (‖∇f(x̂)‖ − 1)² at x̂ = εx + (1 − ε)x̃ matches tf.GradientTape, two sizes, λ ≠ 10")
def ex_12_6(gradient_penalty) -> None:
    for n, dim, seed, lam in [(5, 3, 0, 10.0), (8, 2, 1, 2.5)]:
        rng = np.random.default_rng(60 + seed)
        real = rng.normal(1.0, 1.0, (n, dim))
        fake = rng.normal(-1.0, 1.5, (n, dim))
        eps = rng.uniform(0.1, 0.9, n)
        grad = make_critic_grad(dim, seed)
        value = call(gradient_penalty, grad, real, fake, eps, lam, name="gradient_penalty")
        expected = gp_oracle(dim, seed, real, fake, eps, lam)
        xh = eps[:, None] * real + (1 - eps[:, None]) * fake
        norms = np.linalg.norm(grad(xh), axis=1)
        hints = [
            (lam * np.mean((np.linalg.norm(grad(real), axis=1) - 1) ** 2),
             "the penalty must be taken at random INTERPOLATES x̂ = ε x + (1 − ε) x̃ between real and fake "
             "samples, not at the real samples only."),
            (lam * np.mean(norms), "the penalty is (‖∇‖ − 1)², a two-sided pull of the norm towards 1, not ‖∇‖."),
            (lam * np.mean(norms**2), "the penalty is (‖∇‖ − 1)²; you penalised ‖∇‖² (that pulls the norm to 0)."),
            (lam * (np.mean(norms) - 1) ** 2, "square each sample's (‖∇‖ − 1) and then average, not the average norm."),
            (lam * np.mean((np.linalg.norm(grad((1 - eps[:, None]) * real + eps[:, None] * fake), axis=1) - 1) ** 2),
             "ε weights the REAL sample: x̂ = ε x_real + (1 − ε) x_fake."),
            (lam * np.mean((np.abs(grad(xh)).sum(1) - 1) ** 2), "use the Euclidean norm ‖∇‖₂ of each sample's gradient."),
        ]
        assert_close(value, expected, f"gradient penalty for {n} samples in {dim}-D, λ = {lam:g}", rtol=1e-6,
                     atol=1e-10, hints=hints, factors={"λ": lam, "n": n})


# --------------------------------------------------------------------------- 12.7 CycleGAN


def _maps(seed: int, dim: int) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 0.6, (dim, dim)) + np.eye(dim); c = rng.normal(0, 0.6, (dim, dim)) + np.eye(dim)
    sa, sc = rng.normal(0, 0.5, dim), rng.normal(0, 0.5, dim)

    def G(x: np.ndarray) -> np.ndarray:
        """Generator X → Y (a small nonlinear map)."""
        return np.tanh(np.asarray(x) @ a) + sa

    def F(y: np.ndarray) -> np.ndarray:
        """Generator Y → X."""
        return np.asarray(y) @ c - 0.3 * np.sin(np.asarray(y)) + sc

    return G, F


@exercise("12.7", "the CycleGAN objective",
          "L = L_GAN(G) + L_GAN(F) + λ (E‖F(G(x)) − x‖₁ + E‖G(F(y)) − y‖₁), a sum of terms")
def ex_12_7(cyclegan_objective) -> None:
    for seed, n_x, n_y, dim, lam, adv in [(0, 4, 6, 3, 10.0, (0.7, 1.3)), (1, 5, 3, 2, 4.0, (0.0, 0.9))]:
        rng = np.random.default_rng(70 + seed)
        x, y = rng.normal(0, 1, (n_x, dim)), rng.normal(1, 1, (n_y, dim))
        G, F = _maps(seed, dim)
        value = call(cyclegan_objective, adv[0], adv[1], x, y, G, F, lam, name="cyclegan_objective")
        cx = np.abs(F(G(x)) - x).sum(1).mean()
        cy = np.abs(G(F(y)) - y).sum(1).mean()
        expected = adv[0] + adv[1] + lam * (cx + cy)
        hints = [
            (adv[0] * adv[1] * lam * (cx + cy), "the objective is a SUM of the adversarial and cycle terms, not a "
                                                "product (a product is 0 whenever one factor is, whatever the others)."),
            (adv[0] + adv[1] + lam * (np.square(F(G(x)) - x).sum(1).mean() + np.square(G(F(y)) - y).sum(1).mean()),
             "the cycle-consistency loss uses the L1 norm |·|, not the squared error."),
            (adv[0] + adv[1] + lam * cx, "both cycles count: x → G → F ≈ x AND y → F → G ≈ y."),
            (adv[0] + adv[1] + lam * (np.abs(G(F(x)) - x).sum(1).mean() + np.abs(F(G(y)) - y).sum(1).mean()),
             "the compositions are the wrong way round: x ∈ X goes through G first (F(G(x))), y through F first."),
            (adv[0] + adv[1] + cx + cy, "the cycle terms are weighted by λ."),
            (adv[0] + adv[1] + lam * (np.abs(F(G(x)) - x).mean() + np.abs(G(F(y)) - y).mean()),
             "‖·‖₁ sums over each sample's coordinates; then average over the samples (you averaged the coordinates)."),
        ]
        assert_close(value, expected, f"objective for {n_x} x, {n_y} y in {dim}-D, λ = {lam:g}", rtol=1e-7,
                     atol=1e-10, hints=hints, factors={"λ": lam, "d": dim})
