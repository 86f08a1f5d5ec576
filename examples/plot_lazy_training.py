"""
===========================================
Lazy training: wider networks move less
===========================================

The theorem's proof keeps every hidden weight vector close to its
initialisation, :math:`\\|w_r(T) - w_r(0)\\| \\to 0` as the width :math:`m`
grows, so that the neural tangent kernel :math:`H(W(t))` stays close to
:math:`H(W(0))` throughout training. In the NTK parameterisation the
standard heuristic is that both the weight movement and the relative
kernel drift :math:`\\|H(W(T)) - H(W(0))\\| / \\|H(W(0))\\|` shrink like
:math:`m^{-1/2}`.

We train the paper's algorithm for the same 100 steps at widths from 250 to
16000 and plot the largest and the mean weight movement and the kernel drift
on log-log axes, with fitted slopes.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skexpreg import ExponentialRegressor
from skexpreg.ntk import ntk_diagnostics

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # fixed budget

rng = np.random.RandomState(0)
X = rng.normal(size=(20, 10))
X /= np.linalg.norm(X, axis=1, keepdims=True)
y = rng.uniform(-1, 1, size=20)

paper = dict(input_scaling=None, target_scaling=False, alpha=0.0, init="gaussian")
widths = np.array([250, 500, 1000, 2000, 4000, 8000, 16000])
seeds = [0, 1, 2]
results = {"largest": [], "typical": [], "drift": []}
residual = []
for width in widths:
    per_seed = {key: [] for key in results}
    for seed in seeds:
        model = ExponentialRegressor(
            width, max_iter=100, tol=0.0, random_state=seed, **paper
        ).fit(X, y)
        moved = np.linalg.norm(model.weights_ - model.initial_weights_, axis=0)
        per_seed["largest"].append(moved.max())
        per_seed["typical"].append(moved.mean())
        per_seed["drift"].append(ntk_diagnostics(model, X).kernel_drift)
        residual.append(np.linalg.norm(model.predict(X) - y))
    for key in results:
        results[key].append(np.mean(per_seed[key]))
print(f"largest training residual ||F - y|| over all fits: {max(residual):.4f}")

# %%
# Averages over three initialisations, with least-squares slopes on the
# log-log scale.
labels = {
    "largest": "largest weight movement",
    "typical": "mean weight movement",
    "drift": "relative kernel drift",
}
fig, ax = plt.subplots(figsize=(6, 4))
slopes = {}
for key, marker in zip(results, "o^s"):
    slopes[key] = np.polyfit(np.log(widths), np.log(results[key]), 1)[0]
    label = f"{labels[key]} (slope {slopes[key]:.2f})"
    ax.loglog(widths, results[key], marker + "-", label=label)
reference = results["typical"][0] * (widths / widths[0]) ** -0.5
ax.loglog(widths, reference, "k--", lw=0.8, label="$m^{-1/2}$")
ax.set_xlabel("number of neurons $m$")
ax.legend(fontsize=8)
ax.set_title("Paper setting, n=20, d=10, 100 steps, 3 seeds")
fig.tight_layout()
print({key: round(value, 2) for key, value in slopes.items()})

# %%
# What the plot shows
# -------------------
# Every fit reaches a training residual below 0.004 in the same 100 steps,
# and all three quantities fall with the width. The mean movement of a
# neuron falls like :math:`m^{-1/2}` (fitted slope about -0.52), and so,
# roughly, does the relative kernel drift (about -0.57), as the lazy-regime
# picture says. Two departures from the picture are visible. The *largest*
# movement falls much more slowly (slope about -0.21): it is a maximum over
# :math:`m` neurons, and the neuron that moves most is the one with the
# largest :math:`\exp(\langle w_r, x \rangle)`, which grows with the number
# of neurons drawn (the largest of :math:`m` Gaussians grows like
# :math:`\sqrt{2 \log m}`, and the exponential amplifies it). And single
# initialisations are noisy: the bump at :math:`m = 4000` comes from one seed
# in which a few such extreme neurons moved, and drift and largest movement
# rose together. The theorem bounds the movement of every neuron, but with
# constants that make these widths look small.
