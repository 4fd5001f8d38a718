"""Plain-PyTorch Muon for the capture demos.

The capture tool must run without the compiled rootopt extension (it produces the data the
tuner is fitted to, so it comes first), hence this small pure-torch Muon (KellerJordan/Muon
`muon.py`): Nesterov momentum M <- mu*M + g, U = g + mu*M, five quintic Newton-Schulz steps with
the fixed triple (3.4445, -4.7750, 2.0315), update scaled by sqrt(max(1, rows/cols)).
Its state key "momentum_buffer" follows the convention SpectrumRecorder reads.
"""

import torch

from .recorder import as_matrix

MUON_TRIPLE = (3.4445, -4.7750, 2.0315)


def newton_schulz5(update, steps=5, eps=1e-7):
    """Approximate polar factor of a matrix: X0 = U/||U||_F, X <- aX + (bA + cA^2)X, A = XX^T."""
    a, b, c = MUON_TRIPLE
    x = update / (update.norm() + eps)
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


class Muon(torch.optim.Optimizer):
    def __init__(self, params, lr=0.02, momentum=0.95, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            mu = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p.grad)
                buf = state["momentum_buffer"]
                buf.mul_(mu).add_(p.grad)
                update = as_matrix(p.grad + mu * buf)
                ortho = newton_schulz5(update)
                scale = max(1.0, update.shape[0] / update.shape[1]) ** 0.5
                p.mul_(1.0 - group["lr"] * group["weight_decay"])
                p.add_(ortho.view_as(p), alpha=-group["lr"] * scale)
