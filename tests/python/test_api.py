"""The Python API for the models in data/models: stacked experts [E, out, in] are E matrices, each
its own matrix in every respect (table lookup, threshold quantile, normalisation, scale), exactly
as E separate parameters; per-group `flatten` overrides the views; Muon with a Schatten
normalisation and its own step count; schedules() shows each parameter's recipe."""
import unittest
import warnings

import torch

import reference as ref
import rootopt
from rootopt.torch import ROOT, Muon
from test_root_step import FP32_TOL, FP32_ULP, StepTest, random_grad


class ExpertsTest(StepTest):
    def test_stacked_experts_equal_separate_parameters_bit_for_bit(self):
        generator = torch.Generator().manual_seed(11)
        stacked = torch.nn.Parameter(0.01 * torch.randn(4, 16, 40, generator=generator))
        separate = [torch.nn.Parameter(stacked.detach()[e].clone()) for e in range(4)]
        for precision in ("fp32", "bf16"):
            with self.subTest(precision):
                a = ROOT([stacked], table=self.table, lr=0.05, precision=precision)
                b = ROOT(separate, table=self.table, lr=0.05, precision=precision)
                for _ in range(3):
                    stacked.grad = random_grad((4, 16, 40), generator)
                    for e, p in enumerate(separate):
                        p.grad = stacked.grad[e].clone()
                    a.step()
                    b.step()
                    for e, p in enumerate(separate):
                        self.assertTrue(torch.equal(stacked.detach()[e], p.detach()), e)
                        self.assertTrue(torch.equal(a.state[stacked]["momentum_buffer"][e],
                                                    b.state[p]["momentum_buffer"]), e)

    def check_matrices(self, param, view_shape, schedule, **options):
        """One step of `param`; each matrix of `view_shape` (batch, rows, cols) against the fp64
        reference run on that matrix alone."""
        generator = torch.Generator().manual_seed(12)
        optimizer = ROOT([param], table=self.table, lr=0.05, precision="fp32", **options)
        param.grad = random_grad(param.shape, generator)
        old = param.detach().clone()
        optimizer.step()
        matrices = zip(old.reshape(view_shape), param.detach().reshape(view_shape),
                       param.grad.reshape(view_shape))
        for index, (before, after, grad) in enumerate(matrices):
            with self.subTest(matrix=index):
                _, _, x_ref = ref.root_step(before, grad, torch.zeros_like(before, dtype=float),
                                            schedule, lr=0.05)
                self.assert_step_close(before, after, x_ref, 0.05, 0.1, "rms", FP32_TOL,
                                       FP32_ULP, False)
        return optimizer

    def test_each_expert_is_thresholded_normalised_and_scaled_on_its_own(self):
        # Experts of very different sizes: a shared quantile, norm or scale would be visible.
        scales = torch.tensor([1e-3, 1.0, 30.0]).reshape(3, 1, 1)
        param = torch.nn.Parameter(0.01 * torch.randn(3, 40, 16) * scales)
        optimizer = self.check_matrices(param, (3, 40, 16), ref.YOU)  # the (16, 40) entry
        schedule = optimizer.schedules()["group0.param0[3, 40, 16]"]
        self.assertEqual((schedule["origin"], tuple(schedule["source"])), ("exact", (16, 40)))

    def test_flatten_overrides(self):
        # flatten=True: [E, out, in] is one matrix (E, out*in); (4, 640) is not in the table.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            nearest = ref.TEST_SCHEDULES[ref.nearest_shape((4, 640), ref.TEST_SCHEDULES)]
            self.check_matrices(torch.nn.Parameter(0.01 * torch.randn(4, 16, 40)), (1, 4, 640),
                                nearest, flatten=True)
        # flatten=False: a 4-D tensor is a batch of its last two dimensions.
        self.check_matrices(torch.nn.Parameter(0.01 * torch.randn(2, 3, 24, 24)), (6, 24, 24),
                            ref.ROOT_2048x3072, flatten=False)
        with self.assertRaisesRegex(ValueError, "flatten must be None, True or False"):
            ROOT([torch.nn.Parameter(torch.randn(3, 3))], table=self.table, flatten="rows")


class MuonTest(StepTest):
    def test_schatten8_normalisation_and_step_count(self):
        shape = (16, 40)
        schedule = ref.MUON[:1] * 6
        make = lambda p: Muon(p, lr=0.05, precision="fp32", steps=6,  # noqa: E731
                              normalization="schatten8")
        recipe = make([torch.nn.Parameter(torch.randn(shape))]).schedules()
        (described,) = recipe.values()
        self.assertEqual((described["normalization"], described["steps"]), ("schatten8", 6))
        self.assertIn("schatten8", described["recipe"])
        self.run_steps(shape, steps=2, schedule=schedule, optimizer_factory=make,
                       normalization="schatten8")

    def test_bad_normalisation_or_steps(self):
        param = torch.nn.Parameter(torch.randn(16, 40))
        with self.assertRaisesRegex(ValueError, "normalization must be one of"):
            Muon([param], normalization="spectral")
        with self.assertRaisesRegex(rootopt.Error, "step count must be positive, got 0"):
            Muon([param], steps=0)
        with self.assertRaisesRegex(ValueError, "steps must be an integer"):
            Muon([param], steps=5.0)


class ScheduleTest(ref.TableTestCase):
    def test_schedules_show_the_recipe_of_every_root_parameter(self):
        model = {"w": torch.nn.Parameter(torch.randn(16, 40)),
                 "experts": torch.nn.Parameter(torch.randn(2, 24, 24)),
                 "bias": torch.nn.Parameter(torch.randn(16))}
        optimizer = ROOT(list(model.items()), table=self.table)
        schedules = optimizer.schedules()  # before any step
        self.assertEqual(sorted(schedules), ["experts", "w"])
        for name, source in (("w", (16, 40)), ("experts", (24, 24))):
            s = schedules[name]
            self.assertEqual((s["origin"], tuple(s["source"])), ("exact", source))
            self.assertEqual((s["normalization"], s["form"], s["steps"], s["tail_steps"]),
                             ("frobenius", "standard", 5, 0))
            self.assertIn("5 steps", s["recipe"])
        self.assertEqual([tuple(c) for c in schedules["w"]["coefficients"]],
                         [tuple(float(torch.tensor(v, dtype=torch.float64)) for v in step)
                          for step in ref.YOU])


if __name__ == "__main__":
    unittest.main()
