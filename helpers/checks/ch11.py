"""Checks for chapter 11 (autoencoders and variational autoencoders).

Oracles: ``scipy.linalg.subspace_angles`` for principal angles; ``tf.GradientTape`` over the
penalties written directly from their definitions (the sparse KL with ρ̂ⱼ a per-unit batch mean;
the squared Frobenius norm of the encoder Jacobian computed by ``tape.batch_jacobian``, with the
weights trainable); ``tfp``-free Gaussian algebra for the KL; ``keras.losses`` binary
cross-entropy from logits for the decoder term. The wrong variants written here serve only to
recognise a known mistake and name it.
"""
from __future__ import annotations

import numpy as np

from helpers import tensorflow
from helpers.checks import assert_close, assert_each_close, call, exercise, fail, unpack

# --------------------------------------------------------------------------- 11.1 principal angles


def principal_angles_oracle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Principal angles (radians, ascending) between the column spaces of ``a`` and ``b``."""
    from scipy.linalg import subspace_angles

    return np.sort(subspace_angles(a, b))


def _angle_cases():
    rng = np.random.default_rng(11)
    cases = []
    for d, k, noise in [(6, 2, 0.3), (10, 3, 1.0), (5, 3, 0.05), (8, 3, 0.0)]:   # 0: the same subspace
        a = rng.standard_normal((d, k)) * rng.uniform(0.5, 4.0, k)        # columns NOT orthonormal
        b = a @ rng.standard_normal((k, k)) + noise * rng.standard_normal((d, k))
        cases.append((a, b))
    return cases


@exercise("11.1", "principal angles between subspaces",
          "principal angles match scipy.linalg.subspace_angles (orthonormal bases, arccos of the "
          "singular values, ascending)")
def ex_11_1(principal_angles) -> None:
    for a, b in _angle_cases():
        got = call(principal_angles, a, b, name="principal_angles")
        expected = principal_angles_oracle(a, b)
        raw = np.linalg.svd(a.T @ b, compute_uv=False)
        qa, qb = np.linalg.qr(a)[0], np.linalg.qr(b)[0]
        cos = np.linalg.svd(qa.T @ qb, compute_uv=False)
        hints = [
            (np.sort(np.arccos(np.clip(raw / raw.max(), -1, 1))),
             "the bases were not orthonormalised: take Q from a QR (or SVD) of each matrix first."),
            (np.sort(cos), "these are the cosines (singular values of Q_Aᵀ Q_B); the angles are their arccos."),
            (np.degrees(expected), "the angles are asked in radians, not degrees."),
            (np.sort(np.arccos(np.clip(cos, -1, 1)))[::-1], "sort the angles in ascending order."),
        ]
        assert_close(got, expected, f"angles between {a.shape} and {b.shape} column spaces",
                     rtol=1e-6, atol=1e-7, hints=hints, rtol32=1e-3, atol32=2e-3)


# --------------------------------------------------------------------------- 11.2 sparse KL


def sparse_kl_oracle(h: np.ndarray, rho: float) -> tuple[float, np.ndarray]:
    """Σⱼ KL(ρ ‖ ρ̂ⱼ) with ρ̂ⱼ = mean over the batch of unit j, and its gradient w.r.t. h (TF tape)."""
    tf = tensorflow()
    ht = tf.constant(h, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(ht)
        rho_hat = tf.reduce_mean(ht, axis=0)
        kl = rho * tf.math.log(rho / rho_hat) + (1 - rho) * tf.math.log((1 - rho) / (1 - rho_hat))
        penalty = tf.reduce_sum(kl)
    return float(penalty.numpy()), tape.gradient(penalty, ht).numpy()


def _kl(rho, q):
    return rho * np.log(rho / q) + (1 - rho) * np.log((1 - rho) / (1 - q))


def _sparse_cases():
    rng = np.random.default_rng(12)
    out = []
    for n, k, rho in [(7, 4, 0.05), (16, 6, 0.2), (3, 5, 0.5)]:
        means = rng.uniform(0.02, 0.6, k)                       # units with very different activity
        h = np.clip(means + 0.1 * rng.standard_normal((n, k)), 0.005, 0.995)
        out.append((h, rho))
    return out


@exercise("11.2", "the sparse-autoencoder KL penalty and its gradient",
          "the KL sparsity penalty (ρ̂ⱼ averaged per unit over the batch) and its gradient match "
          "tf.GradientTape")
def ex_11_2(sparse_kl) -> None:
    for h, rho in _sparse_cases():
        penalty, grad = unpack(call(sparse_kl, h, rho, name="sparse_kl"), "sparse_kl", ["penalty", "grad"])
        exp_p, exp_g = sparse_kl_oracle(h, rho)
        n, k = h.shape
        q = h.mean(0)
        q_all = h.mean()
        label = f"for a batch of {n} × {k} units, ρ = {rho:g}"
        p_hints = [
            (np.sum(np.log(rho / q) + (1 - rho) * np.log((1 - rho) / (1 - q))),
             "the first KL term is missing its factor ρ: KL(ρ‖ρ̂) = ρ log(ρ/ρ̂) + (1 − ρ) log((1 − ρ)/(1 − ρ̂))."),
            (k * _kl(rho, q_all), "ρ̂ was averaged over ALL units; ρ̂ⱼ is the mean activation of unit j over the batch."),
            (_kl(rho, q_all), "ρ̂ was averaged over ALL units; ρ̂ⱼ is the mean activation of unit j over the batch."),
            (np.sum(_kl(rho, h)) / n, "ρ̂ⱼ must be the batch mean of unit j, not each example's activation."),
            (np.sum(_kl(q, rho)), "the KL is reversed: the penalty is KL(ρ ‖ ρ̂ⱼ), with ρ first."),
            (np.mean(_kl(rho, q)), "the penalty is a SUM over units j, not a mean."),
        ]
        dq = -rho / q + (1 - rho) / (1 - q)
        g_hints = [
            (np.broadcast_to(dq, h.shape), "the gradient lacks 1/N: ρ̂ⱼ = (1/N) Σₙ hₙⱼ, so ∂/∂hₙⱼ = (1/N) ∂KL/∂ρ̂ⱼ."),
            (np.broadcast_to(-dq / n, h.shape), "the gradient has the wrong sign: ∂KL/∂ρ̂ = −ρ/ρ̂ + (1 − ρ)/(1 − ρ̂)."),
            (np.broadcast_to((-1 / q + (1 - rho) / (1 - q)) / n, h.shape),
             "the gradient comes from the KL missing ρ in its first term (−1/ρ̂ instead of −ρ/ρ̂)."),
            (np.broadcast_to((-rho / q_all + (1 - rho) / (1 - q_all)) / (n * k), h.shape),
             "ρ̂ was averaged over ALL units; ρ̂ⱼ is the mean activation of unit j over the batch."),
            (-rho / h + (1 - rho) / (1 - h), "this is the gradient of the per-example KL; ρ̂ⱼ is a batch mean."),
        ]
        assert_each_close([
            (f"penalty {label}", penalty, exp_p, {"hints": p_hints, "factors": {"N": n, "1/N": 1 / n, "k": k}}),
            (f"gradient {label}", grad, exp_g, {"hints": g_hints, "index_names": ["example", "unit"],
                                                 "factors": {"N": n, "k": k}}),
        ], rtol=1e-7, atol=1e-10)


# --------------------------------------------------------------------------- 11.3 contractive penalty


def contractive_oracle(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean over the batch of ‖∂h/∂x‖²_F for h = σ(x W + b), by batch_jacobian; and its gradient
    w.r.t. W with W trainable (not frozen)."""
    tf = tensorflow()
    xt = tf.constant(x)
    wv = tf.Variable(w)
    bt = tf.constant(b)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(xt)
            h = tf.sigmoid(xt @ wv + bt)
        jac = inner.batch_jacobian(h, xt)                     # [N, k, d]
        penalty = tf.reduce_mean(tf.reduce_sum(jac ** 2, axis=[1, 2]))
    return float(penalty.numpy()), outer.gradient(penalty, wv).numpy()


def _contractive_cases():
    rng = np.random.default_rng(13)
    out = []
    for n, d, k in [(5, 4, 3), (9, 6, 2), (2, 3, 5)]:
        out.append((rng.standard_normal((n, d)), 0.8 * rng.standard_normal((d, k)), 0.5 * rng.standard_normal(k)))
    return out


@exercise("11.3", "the contractive penalty in closed form",
          "the closed-form Jacobian penalty of a sigmoid encoder and its gradient w.r.t. W (weights not "
          "frozen) match tf.GradientTape")
def ex_11_3(contractive_penalty) -> None:
    for x, w, b in _contractive_cases():
        penalty, dw = unpack(call(contractive_penalty, x, w, b, name="contractive_penalty"),
                             "contractive_penalty", ["penalty", "dW"])
        exp_p, exp_dw = contractive_oracle(x, w, b)
        n = x.shape[0]
        h = 1 / (1 + np.exp(-(x @ w + b)))
        s = h * (1 - h)
        c = (w ** 2).sum(0)
        direct = 2 * w * (s ** 2).mean(0)
        through_h = x.T @ (c * 2 * s ** 2 * (1 - 2 * h)) / n
        label = f"for N = {n}, d = {x.shape[1]}, k = {w.shape[1]}"
        p_hints = [
            (np.mean(s @ c), "h(1 − h) must be squared: ‖J‖²_F = Σⱼ (hⱼ(1 − hⱼ))² Σᵢ Wᵢⱼ²."),
            (np.sum((s ** 2) @ c), "the penalty is the MEAN over the batch, not the sum."),
            (np.mean((s ** 2) @ np.sqrt(c)), "use the squared weights: Σᵢ Wᵢⱼ², not the norm ‖W_{:,j}‖."),
        ]
        g_hints = [
            (direct, "the weights inside h were frozen: W also acts through hⱼ(1 − hⱼ); add the term "
                     "through h (the contractive penalty must not stop the gradient at the encoder)."),
            (through_h, "the Σᵢ Wᵢⱼ² factor was frozen: differentiate it too (2 W (h(1 − h))²)."),
            (direct + 2 * through_h, "the term through h(1 − h) has an extra factor 2."),
        ]
        assert_each_close([
            (f"penalty {label}", penalty, exp_p, {"hints": p_hints, "factors": {"N": n}}),
            (f"dW {label}", dw, exp_dw, {"hints": g_hints, "index_names": ["input", "unit"], "factors": {"N": n}}),
        ], rtol=1e-7, atol=1e-10)


# --------------------------------------------------------------------------- 11.4 Gaussian KL


def gaussian_kl_oracle(mu: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """KL(N(μ, diag σ²) ‖ N(0, I)) per example from the densities' definitions (quadrature-free:
    KL = E_q[log q − log p] evaluated in closed form term by term)."""
    var = np.exp(log_var)
    # E_q[log q] = −½ Σ (log 2π + log σ² + 1);  E_q[log p] = −½ Σ (log 2π + μ² + σ²)
    e_log_q = -0.5 * np.sum(np.log(2 * np.pi) + log_var + 1.0, axis=-1)
    e_log_p = -0.5 * np.sum(np.log(2 * np.pi) + mu ** 2 + var, axis=-1)
    return e_log_q - e_log_p


def _kl_cases():
    rng = np.random.default_rng(14)
    return [(rng.standard_normal((n, l)) * 1.5, rng.uniform(-3.0, 2.0, (n, l))) for n, l in [(5, 3), (8, 2), (2, 6)]]


@exercise("11.4", "the Gaussian KL to the prior in closed form",
          "KL(N(μ, σ²) ‖ N(0, I)) per example matches ½ Σ (μ² + σ² − log σ² − 1)")
def ex_11_4(gaussian_kl) -> None:
    for mu, lv in _kl_cases():
        got = call(gaussian_kl, mu, lv, name="gaussian_kl")
        expected = gaussian_kl_oracle(mu, lv)
        var = np.exp(lv)
        hints = [
            (0.5 * np.sum(mu ** 2 + np.exp(2 * lv) - 2 * lv - 1, -1),
             "log_var is log σ², not log σ: σ² = exp(log_var)."),
            (0.5 * np.sum(mu ** 2 + var - 0.5 * lv - 1, -1),
             "the term is log σ² (= log_var), not log σ (= log_var / 2)."),
            (0.5 * np.sum(mu ** 2 + np.exp(0.5 * lv) - lv - 1, -1),
             "σ² = exp(log_var); exp(log_var / 2) is σ."),
            (0.5 * np.sum((1 + mu ** 2) / var - 1 + lv, -1),
             "this is KL(p(z) ‖ q(z|x)), the wrong direction: the VAE's KL is KL(q(z|x) ‖ p(z)) to the prior."),
            (np.zeros_like(expected), "the KL is to the prior N(0, I), not to q(z|x) itself or a posterior."),
            (0.5 * np.mean(mu ** 2 + var - lv - 1, -1), "sum the KL over latent dimensions; do not average."),
            (np.sum(mu ** 2 + var - lv - 1, -1), "the closed form has a factor ½."),
            (0.5 * np.sum(mu ** 2 + var - lv + 1, -1), "the constant is −1 per dimension: ½ Σ (μ² + σ² − log σ² − 1)."),
        ]
        assert_close(got, expected, f"KL for μ, log σ² of shape {mu.shape}", rtol=1e-9, atol=1e-10,
                     hints=hints, index_names=["example"], rtol32=1e-5, atol32=1e-5)


# --------------------------------------------------------------------------- 11.5 reparameterisation


@exercise("11.5", "reparameterised sampling",
          "z = μ + exp(½ log σ²) ⊙ ε matches, and the gradient reaches μ and log σ² through z")
def ex_11_5(reparameterise) -> None:
    tf = tensorflow()
    rng = np.random.default_rng(15)
    for n, l in [(4, 3), (7, 2)]:
        mu0 = rng.standard_normal((n, l))
        lv0 = rng.uniform(-2.0, 1.5, (n, l))
        eps = rng.standard_normal((n, l))
        wt = rng.standard_normal((n, l))
        mu, lv = tf.Variable(mu0), tf.Variable(lv0)
        with tf.GradientTape() as tape:
            z = call(reparameterise, mu, lv, tf.constant(eps), name="reparameterise")
            try:
                loss = tf.reduce_sum(tf.cast(z, tf.float64) * wt)
            except Exception as error:  # noqa: BLE001 - a value TF cannot take
                fail(f"reparameterise must return a tensor z of shape {(n, l)}: {error}")
        sigma = np.exp(0.5 * lv0)
        label = f"z for μ, log σ² of shape {(n, l)}"
        assert_close(z, mu0 + sigma * eps, label, rtol=1e-9, atol=1e-10, rtol32=1e-5, atol32=1e-5, hints=[
            (mu0, "z has no noise: z = μ + σ ⊙ ε with ε ~ N(0, I); z = μ is the mean, not a sample."),
            (mu0 + np.exp(lv0) * eps, "σ² multiplies ε; the reparameterisation needs σ = exp(½ log σ²)."),
            (mu0 + lv0 * eps, "log σ² is not σ: σ = exp(½ log σ²)."),
            (mu0 + np.exp(2 * lv0) * eps, "log_var is log σ², not log σ: σ = exp(log_var / 2)."),
            (sigma * eps, "z is missing μ: z = μ + σ ⊙ ε."),
        ], index_names=["example", "latent"])
        dmu, dlv = tape.gradient(loss, [mu, lv])
        single = np.asarray(z).dtype == np.float32              # a float32 z sends float32 gradients back
        for grad, what in [(dmu, "μ"), (dlv, "log σ²")]:
            if grad is None:
                fail(f"no gradient reaches {what} through z: the sample was detached (NumPy ops, .numpy() or "
                     "tf.stop_gradient). The point of the trick is that z is a differentiable function of "
                     "μ and σ; write it with TF ops.")
        assert_each_close([
            (f"∂z/∂μ-weighted gradient for shape {(n, l)}", dmu, wt, {"hints": [
                (np.zeros_like(wt), "the gradient to μ is zero: z was detached from μ.")]}),
            (f"gradient to log σ² for shape {(n, l)}", dlv, wt * 0.5 * sigma * eps, {"hints": [
                (np.zeros_like(wt), "the gradient to log σ² is zero: σ was detached (or ε left out).")]}),
        ], rtol=1e-4 if single else 1e-7, atol=1e-5 if single else 1e-9)


# --------------------------------------------------------------------------- 11.6 VAE loss


def vae_loss_oracle(x: np.ndarray, logits: np.ndarray, mu: np.ndarray, log_var: np.ndarray) -> float:
    """Batch mean of [Σ_pixels BCE(x, σ(logits)) from logits (Keras) + KL(q ‖ N(0, I))]."""
    import keras

    bce = keras.losses.binary_crossentropy(x[..., None], logits[..., None], from_logits=True)
    rec = np.sum(np.asarray(bce, np.float64).reshape(len(x), -1), axis=1)
    return float(np.mean(rec + gaussian_kl_oracle(mu, log_var)))


def _vae_cases():
    rng = np.random.default_rng(16)
    out = []
    for n, d, l in [(4, 10, 2), (6, 7, 3)]:
        x = (rng.uniform(size=(n, d)) < 0.4).astype(np.float64)
        x[0, :3] = [0.3, 0.7, 0.5]                            # grey levels, as in Fashion-MNIST
        logits = rng.standard_normal((n, d)) * 3
        logits[1, :4] = [45.0, -45.0, 60.0, -38.0]             # saturated pixels: log σ(·) overflows
        x[1, :4] = [0.0, 1.0, 1.0, 0.0]
        out.append((x, logits, rng.standard_normal((n, l)), rng.uniform(-2, 1, (n, l))))
    return out


def _bce_logits(x, logits):
    return np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))


def _bce_probs(x, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -(x * np.log(p) + (1 - x) * np.log(1 - p))


@exercise("11.6", "the VAE loss (negative ELBO) with a Bernoulli decoder",
          "the negative ELBO (BCE from logits summed over pixels + KL to N(0, I), mean over the batch) "
          "matches, also for saturated logits")
def ex_11_6(vae_loss) -> None:
    for x, logits, mu, lv in _vae_cases():
        with np.errstate(all="ignore"):
            got = call(vae_loss, x, logits, mu, lv, name="vae_loss")
        expected = vae_loss_oracle(x, logits, mu, lv)
        n = len(x)
        kl = gaussian_kl_oracle(mu, lv)
        rec = expected - kl.mean()
        with np.errstate(all="ignore"):
            sig = 1 / (1 + np.exp(-logits))
            hints = [
                (np.mean(_bce_probs(x, logits).sum(1)) + kl.mean(),
                 "the decoder output is LOGITS: binary cross-entropy on raw (linear) outputs treats them as "
                 "probabilities; use the logits form (from_logits=True) or apply the sigmoid."),
                (np.mean(_bce_probs(x, 1 / (1 + np.exp(-sig))).sum(1)) + kl.mean(),
                 "the sigmoid was applied twice (sigmoid probabilities passed as logits)."),
                (np.mean(_bce_logits(x, logits).mean(1)) + kl.mean(),
                 "the reconstruction term is a SUM over pixels (log p(x|z) of the whole image), not a mean."),
                (rec, "the KL term is missing (or taken to q(z|x) itself, which is 0): the ELBO's KL is to the prior N(0, I)."),
                (rec - kl.mean(), "the KL enters the loss with a + sign: loss = −ELBO = reconstruction + KL."),
                (rec + np.mean(0.5 * np.sum(mu ** 2 + np.exp(2 * lv) - 2 * lv - 1, -1)),
                 "log_var is log σ², not log σ, in the KL."),
            ]
        if not np.isfinite(np.asarray(got, dtype=np.float64)).all():
            fail("the loss is not finite for saturated logits (|logit| ≈ 45): log σ(l) overflows; use the "
                 "stable logits form max(l, 0) − l·x + log(1 + e^{−|l|}) (tf.nn.sigmoid_cross_entropy_with_logits).")
        assert_close(got, expected, f"loss for a batch of {n} images of {x.shape[1]} pixels",
                     rtol=1e-7, atol=1e-8, hints=hints, factors={"N": n, "1/N": 1 / n, "pixels": x.shape[1]},
                     rtol32=1e-5, atol32=1e-4)
