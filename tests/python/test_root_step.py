"""rootopt.torch.ROOT / Muon steps against the independent fp64 reference (reference.py), on fresh
random tensors: wide, tall, square and flattened 4-D parameters, options, trajectories, bf16."""
import unittest
import warnings

import torch

import reference as ref
from rootopt.torch import ROOT, Muon

SHAPES = {"wide": (16, 40), "tall": (40, 16), "square": (24, 24), "conv": (8, 3, 3, 3)}
SCHEDULES = ref.TEST_SCHEDULES

# The update the optimizer made is recovered as X = ((1 - lr wd) theta_old - theta_new) / (lr scale)
# and compared with the reference X_K.
# fp32 Newton-Schulz, max-abs error relative to max|X_K|: every GEMM rounds to fp32 (u = 6e-8,
# inner dimension <= 40, so <= 40 u = 2.4e-6 per step); the steps' maps have derivatives of a
# few units, so 5 steps stay below 1e-4 (measured: <= 4e-6 over 20 seeds per shape). Using a
# wrong schedule, quantile, transpose or scale changes X_K by >= 8e-2.
FP32_TOL = 1e-4
# bf16 Newton-Schulz, Frobenius error relative to ||X_K||_F: operands and GEMM outputs rounded to
# bf16 (relative 2^-9 = 2e-3) in 3 GEMMs x 5 steps, amplified by derivatives up to ~3, gives
# ~sqrt(15) * 3 * 2e-3 = 2.3e-2 (measured: <= 2.8e-2 over 30 seeds per shape and schedule). 5e-2
# still catches a wrong transpose, scale, lr or momentum (O(1) errors); telling schedules apart
# (>= 8e-2 apart) is left to the fp32 tests.
BF16_TOL = 5e-2
# Rounding of the stored parameter (p_old (1 - lr wd) rounded, then the update, rounded): at most
# one unit in the last place of |theta|, 2^-23 in fp32 and 2^-7 in bf16 (8-bit significand).
FP32_ULP = 2.0 ** -23
BF16_ULP = 2.0 ** -7


def random_grad(shape, generator):
    """Gaussian with 2% outliers 10x larger, so the soft-threshold clamps real outliers."""
    g = torch.randn(shape, generator=generator)
    outliers = torch.rand(shape, generator=generator) < 0.02
    return g * (1 + 9 * outliers)


class StepTest(ref.TableTestCase):
    def schedule(self, shape):
        rows = shape[0]
        cols = int(torch.tensor(shape[1:]).prod())
        return SCHEDULES[(min(rows, cols), max(rows, cols))]

    def assert_step_close(self, old, new, x_ref, lr, wd, scale, tol, ulp, frobenius):
        """The recovered update X matches X_K within tol (max-abs or Frobenius, relative) plus
        the stored parameter's rounding, divided by lr * scale."""
        rows = old.shape[0]
        factor = lr * ref.scale_factor(rows, old.numel() // rows, scale)
        x = ((1 - lr * wd) * old.double() - new.double()) / factor
        norm = (lambda t: torch.linalg.vector_norm(t).item()) if frobenius else (
            lambda t: t.abs().max().item())
        self.assertGreater(x_ref.abs().max().item(), 1e-3, "zero update: the test proves nothing")
        bound = tol * norm(x_ref) + ulp * max(norm(old.double()), norm(new.double())) / factor
        error = norm(x - x_ref)
        self.assertLessEqual(error, bound, f"error {error:.3g} > bound {bound:.3g}")

    def run_steps(self, shape, steps=1, dtype=torch.float32, bf16=False, scheduler_gamma=None,
                  optimizer_factory=None, schedule=None, normalization="frobenius", **options):
        """`steps` steps of one parameter; compares param and momentum with the reference.
        bf16: bf16 Newton-Schulz tolerance (and bf16 rounding if dtype is bfloat16).
        normalization: the recipe's, for the reference."""
        generator = torch.Generator().manual_seed(hash(shape) % 2**31)
        param = torch.nn.Parameter((0.01 * torch.randn(shape, generator=generator)).to(dtype))
        if optimizer_factory is None:
            optimizer = ROOT([param], table=self.table, **options)
        else:
            optimizer = optimizer_factory([param])
        group = optimizer.param_groups[0]
        scheduler = (torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=scheduler_gamma)
                     if scheduler_gamma else None)
        momentum = torch.zeros(shape, dtype=torch.float64)
        schedule = schedule or self.schedule(shape)
        for _ in range(steps):
            param.grad = random_grad(shape, generator).to(dtype)
            lr = group["lr"]
            old = param.detach().clone()
            _, momentum, x_ref = ref.root_step(
                param.detach(), param.grad, momentum, schedule, lr=lr, mu=group["momentum"],
                nesterov=group["nesterov"], wd=group["weight_decay"],
                threshold_quantile=group["threshold_quantile"], threshold=group["threshold"],
                scale=group["scale"], normalization=normalization)
            optimizer.step()
            if scheduler:
                scheduler.step()
            self.assert_step_close(old, param.detach(), x_ref, lr, group["weight_decay"],
                                   group["scale"], BF16_TOL if bf16 else FP32_TOL,
                                   BF16_ULP if dtype == torch.bfloat16 else FP32_ULP, bf16)
            buffer = optimizer.state[param]["momentum_buffer"]
            self.assertEqual(buffer.dtype, torch.float32)
            torch.testing.assert_close(buffer.double(), momentum, rtol=1e-6, atol=1e-6)
        self.assertEqual(optimizer.state[param]["step"], steps)
        return optimizer


class RootStepTest(StepTest):
    def test_every_shape_fp32(self):
        for name, shape in SHAPES.items():
            with self.subTest(name):
                self.run_steps(shape, precision="fp32", lr=0.05)

    def test_options(self):
        cases = [dict(nesterov=False), dict(threshold=0.5), dict(threshold_quantile=None),
                 dict(threshold_quantile=0.5), dict(scale="spectral"), dict(scale="none"),
                 dict(momentum=0.5, weight_decay=0.0)]
        for options in cases:
            for name in ("wide", "tall"):
                with self.subTest(f"{name} {options}"):
                    self.run_steps(SHAPES[name], precision="fp32", lr=0.05, **options)

    def test_trajectory_fp32(self):
        for name, shape in SHAPES.items():
            with self.subTest(name):
                self.run_steps(shape, steps=4, precision="fp32", lr=0.02)

    def test_bf16_newton_schulz(self):
        for name, shape in SHAPES.items():
            with self.subTest(name):
                self.run_steps(shape, steps=2, bf16=True, precision="bf16", lr=0.05)

    def test_bf16_parameters(self):
        # lr 0.5 on parameters of size 0.01: the update dominates theta, so the bf16 rounding of
        # the stored parameter stays a small part of the bound.
        for name, shape in SHAPES.items():
            with self.subTest(name):
                self.run_steps(shape, steps=2, dtype=torch.bfloat16, bf16=True, precision="bf16",
                               lr=0.5)

    def test_lr_scheduler(self):
        optimizer = self.run_steps(SHAPES["wide"], steps=3, precision="fp32", lr=0.08,
                                   scheduler_gamma=0.5)
        self.assertAlmostEqual(optimizer.param_groups[0]["lr"], 0.01)

    def test_muon_uses_the_named_schedule_without_threshold(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no fallback warnings: no table by design
            self.run_steps(SHAPES["tall"], steps=2, schedule=ref.MUON,
                           optimizer_factory=lambda p: Muon(p, lr=0.05, precision="fp32"))

    def test_zero_gradient_gives_pure_weight_decay(self):
        param = torch.nn.Parameter(torch.randn(16, 40))
        before = param.detach().clone()
        optimizer = ROOT([param], table=self.table, lr=0.1, weight_decay=0.5)
        param.grad = torch.zeros_like(param)
        optimizer.step()
        torch.testing.assert_close(param.detach(), before * (1 - 0.1 * 0.5), rtol=1e-6, atol=0)
        self.assertTrue(torch.isfinite(optimizer.state[param]["momentum_buffer"]).all())

    def test_parameter_without_grad_is_untouched(self):
        used = torch.nn.Parameter(torch.randn(16, 40))
        unused = torch.nn.Parameter(torch.randn(24, 24))
        before = unused.detach().clone()
        optimizer = ROOT([used, unused], table=self.table)
        used.grad = torch.randn(16, 40)
        optimizer.step()
        self.assertTrue(torch.equal(unused.detach(), before))
        self.assertNotIn(unused, optimizer.state)


if __name__ == "__main__":
    unittest.main()
