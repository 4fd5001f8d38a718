"""How orthogonal is the update an optimizer applied? (examples/train_byte_lm.py, issue 13)

The Muon-family step (docs/runtime.md) is theta' = fl32(theta decay - step X_K), where X_K is
the Newton-Schulz output for the input B: the Nesterov momentum U = g + mu M' (Muon), clamped
at its q-quantile (ROOT). Given theta before and after a step and U, this module recovers X_K in
fp64 and measures it against the fp64 SVD polar factor of B and of U. NewtonSchulzProbe runs
any optimizer's Newton-Schulz on a given matrix, so schedules can be compared on identical
inputs.
"""

import math

import numpy as np
import torch


def polar_factor(matrix):
    """U V^T of an fp64 SVD (numpy/LAPACK) of `matrix`."""
    u, _, vt = np.linalg.svd(np.asarray(matrix, dtype=np.float64), full_matrices=False)
    return u @ vt


def orthogonality_error(update, polar):
    """||X - U V^T||_F / sqrt(r) of X = update against a polar factor U V^T (r = min(m, n)); the
    RMS of p(s_i) - 1 over the singular values in exact arithmetic, the tuner's and the audit's
    error (docs/design.md)."""
    return float(np.linalg.norm(update - polar) / math.sqrt(min(update.shape)))


def newton_schulz_input(u, threshold_quantile):
    """What the runtime orthogonalizes (docs/runtime.md step 2): U clamped to +-eps, eps the
    q-quantile of |U| with linear interpolation (ROOT), or U itself (None: no soft-threshold)."""
    if threshold_quantile is None:
        return u
    eps = float(torch.quantile(u.abs().flatten().double(), threshold_quantile))
    return u.clamp(-eps, eps)


def update_scale(shape):
    """Scale "rms", 0.2 sqrt(max(m, n)) (docs/runtime.md step 5)."""
    return 0.2 * math.sqrt(max(shape))


def applied_update(before, after, lr, weight_decay, scale):
    """X_K recovered from the weight change of one runtime step, theta' = fl32(theta decay -
    step X_K) with decay = fl32(1 - lr wd), step = fl32(lr scale) from the fp32 hyperparameters
    (docs/runtime.md step 5), in fp64; and a bound of the RMS error the fp32 rounding of theta'
    leaves in it (at most three roundings of 2^-24 relative to |theta|, |theta'|, |step X_K|)."""
    lr32, wd32 = float(np.float32(lr)), float(np.float32(weight_decay))
    decay = float(np.float32(1.0 - lr32 * wd32))
    step = float(np.float32(lr32 * scale))
    b, a = before.double().numpy(), after.double().numpy()
    x = (b * decay - a) / step
    bound = 2.0 ** -22 * (np.linalg.norm(b) + np.linalg.norm(a)) / step
    return x, bound / math.sqrt(min(x.shape))


class NewtonSchulzProbe:
    """One optimizer's Newton-Schulz on a given matrix: `optimizer` is a rootopt optimizer of
    the single zero parameter `param` with lr 1, momentum 0 and no Nesterov (so U = g), weight
    decay 0, no soft-threshold and scale "none", so a step from theta = 0 leaves exactly
    theta' = -X_K (docs/runtime.md steps 1-5)."""

    def __init__(self, param, optimizer):
        self.param, self.optimizer = param, optimizer

    def __call__(self, matrix):
        with torch.no_grad():
            self.param.zero_()
        self.param.grad = matrix.detach().clone()
        self.optimizer.step()
        return -self.param.detach().double().numpy()


def measure_update(u, threshold_quantile, before, after, lr, weight_decay, probes):
    """Orthogonality of one applied update (the step that turned `before` into `after`) whose
    Nesterov momentum was `u` (g + mu M', rebuilt from the optimizer's state after the step).

    ns_error: against the polar factor of the Newton-Schulz input (B = U clamped for ROOT, U for
      Muon): how precisely the optimizer orthogonalized what it orthogonalizes, the quantity its
      schedule is tuned for.
    momentum_error: against the polar factor of U (equal to ns_error without soft-threshold):
      for ROOT it adds the direction change of dropping the outliers, which is by design.
    rounding_bound: the recovery's own error bound (applied_update).
    same_input: {name: error of probes[name] (a NewtonSchulzProbe) on this same input}: the
      schedules compared on identical matrices (ROOT's clamped inputs are better conditioned
      than raw momentum, so ns_error alone mixes input and schedule)."""
    u = u.float()
    b = newton_schulz_input(u, threshold_quantile)
    x, bound = applied_update(before, after, lr, weight_decay, update_scale(after.shape))
    polar_b = polar_factor(b)
    polar_u = polar_b if threshold_quantile is None else polar_factor(u)
    return dict(ns_error=orthogonality_error(x, polar_b),
                momentum_error=orthogonality_error(x, polar_u), rounding_bound=bound,
                same_input={name: orthogonality_error(probe(b), polar_b)
                            for name, probe in probes.items()})
