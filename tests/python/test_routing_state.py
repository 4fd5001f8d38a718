"""Routing to AdamW, state_dict round trips, non-finite gradients, table fallbacks and errors."""
import copy
import io
import unittest
import warnings

import torch

import reference as ref
import rootopt
from rootopt.torch import ROOT, Muon

SCHEDULES = ref.TEST_SCHEDULES


class Model(torch.nn.Module):
    """A 2-D weight, a conv kernel, 1-D biases and an output head (routed to AdamW by group)."""

    def __init__(self, dtype=torch.float32):
        super().__init__()
        generator = torch.Generator().manual_seed(1)
        self.hidden = torch.nn.Parameter(torch.randn(16, 40, generator=generator).to(dtype))
        self.conv = torch.nn.Parameter(torch.randn(8, 3, 3, 3, generator=generator).to(dtype))
        self.bias = torch.nn.Parameter(torch.randn(16, generator=generator).to(dtype))
        self.head = torch.nn.Parameter(torch.randn(10, 16, generator=generator).to(dtype))

    def groups(self):
        return [{"params": [("hidden", self.hidden), ("conv", self.conv), ("bias", self.bias)]},
                {"params": [("head", self.head)], "use_root": False, "lr": 3e-3}]


def set_grads(model, seed):
    generator = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        p.grad = torch.randn(p.shape, generator=generator).to(p.dtype)


class RoutingStateTest(ref.TableTestCase):
    def test_vectors_and_use_root_false_groups_follow_torch_adamw(self):
        model, twin = Model(), Model()
        optimizer = ROOT(model.groups(), table=self.table, lr=1e-2, weight_decay=0.05)
        # torch's AdamW with the documented defaults: betas (0.9, 0.95), eps 1e-8, the group's
        # lr and weight decay.
        adamw = torch.optim.AdamW([{"params": [twin.bias], "lr": 1e-2},
                                   {"params": [twin.head], "lr": 3e-3}],
                                  betas=(0.9, 0.95), eps=1e-8, weight_decay=0.05)
        for seed in range(3):
            set_grads(model, seed)
            set_grads(twin, seed)
            optimizer.step()
            adamw.step()
            # Same function (torch.optim.adamw.adamw, single-tensor path), same inputs: identical.
            self.assertTrue(torch.equal(model.bias, twin.bias))
            self.assertTrue(torch.equal(model.head, twin.head))
        self.assertFalse(torch.equal(model.hidden, twin.hidden))  # the matrix went to ROOT
        self.assertIn("momentum_buffer", optimizer.state[model.hidden])
        self.assertIn("exp_avg", optimizer.state[model.head])

    def test_adamw_lr_follows_the_scheduler(self):
        model, twin = Model(), Model()
        optimizer = ROOT([model.bias], table=self.table, lr=0.1, adamw_lr=1e-2)
        adamw = torch.optim.AdamW([twin.bias], lr=1e-2, betas=(0.9, 0.95), weight_decay=0.1)
        schedulers = [torch.optim.lr_scheduler.StepLR(o, 1, gamma=0.5) for o in (optimizer, adamw)]
        for seed in range(3):
            set_grads(model, seed)
            set_grads(twin, seed)
            for o, s in zip((optimizer, adamw), schedulers):
                o.step()
                s.step()
            torch.testing.assert_close(model.bias, twin.bias, rtol=1e-6, atol=1e-7)

    def round_trip(self, dtype, precision):
        """Two steps, state_dict through torch.save, a fresh optimizer on a copy of the model:
        the next steps must be bit-identical."""
        model = Model(dtype)
        optimizer = ROOT(model.groups(), table=self.table, lr=1e-2, precision=precision)
        for seed in range(2):
            set_grads(model, seed)
            optimizer.step()
        buffer = io.BytesIO()
        torch.save(optimizer.state_dict(), buffer)
        twin = Model(dtype)
        twin.load_state_dict(model.state_dict())
        resumed = ROOT(twin.groups(), table=self.table, lr=0.5, precision="fp32")
        buffer.seek(0)
        resumed.load_state_dict(torch.load(buffer))
        self.assertEqual(resumed.param_groups[0]["lr"], 1e-2)  # hyperparameters restored too
        self.assertEqual(resumed.state[twin.hidden]["momentum_buffer"].dtype, torch.float32)
        self.assertEqual(resumed.state[twin.hidden]["step"], 2)
        for seed in range(2, 4):
            set_grads(model, seed)
            set_grads(twin, seed)
            optimizer.step()
            resumed.step()
            for (name, p), q in zip(model.named_parameters(), twin.parameters()):
                self.assertTrue(torch.equal(p, q), f"{name} differs after resume")
            for p, q in zip(model.parameters(), twin.parameters()):
                for key, value in optimizer.state[p].items():
                    self.assertTrue(torch.equal(torch.as_tensor(value),
                                                torch.as_tensor(resumed.state[q][key])), key)

    def test_state_dict_round_trip_fp32(self):
        self.round_trip(torch.float32, "fp32")

    def test_state_dict_round_trip_bf16_keeps_fp32_momentum(self):
        self.round_trip(torch.bfloat16, "bf16")

    def test_deepcopy_continues_identically(self):
        model = Model()
        optimizer = ROOT(model.groups(), table=self.table, lr=1e-2)
        set_grads(model, 0)
        optimizer.step()
        twin_model, twin = copy.deepcopy((model, optimizer))
        for seed in (1, 2):
            set_grads(model, seed)
            set_grads(twin_model, seed)
            optimizer.step()
            twin.step()
        for p, q in zip(model.parameters(), twin_model.parameters()):
            self.assertTrue(torch.equal(p, q))

    def test_non_finite_gradient_is_skipped_without_touching_state(self):
        model = Model()
        optimizer = ROOT(model.groups(), table=self.table, lr=1e-2, precision="fp32")
        set_grads(model, 0)
        optimizer.step()
        for bad in (float("nan"), float("inf")):
            with self.subTest(bad):
                hidden = model.hidden.detach().clone()
                momentum = optimizer.state[model.hidden]["momentum_buffer"].clone()
                conv = model.conv.detach().clone()
                set_grads(model, 1)
                model.hidden.grad[3, 5] = bad
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    optimizer.step()
                messages = [str(w.message) for w in caught]
                self.assertTrue(any("hidden" in m and "non-finite" in m for m in messages),
                                messages)
                self.assertTrue(torch.equal(model.hidden, hidden))
                self.assertTrue(torch.equal(optimizer.state[model.hidden]["momentum_buffer"],
                                            momentum))
                self.assertFalse(torch.equal(model.conv, conv))  # the others still step
                self.assertEqual(optimizer.state[model.hidden]["step"], 1)
        # The next finite step continues from the untouched state, as the reference says.
        set_grads(model, 2)
        momentum = optimizer.state[model.hidden]["momentum_buffer"].clone()
        expected, _, x_ref = ref.root_step(model.hidden.detach(), model.hidden.grad, momentum,
                                           SCHEDULES[(16, 40)], lr=1e-2)
        optimizer.step()
        self.assertGreater(x_ref.abs().max().item(), 1e-3)
        torch.testing.assert_close(model.hidden.double(), expected, rtol=0, atol=1e-6)

    def test_shape_without_entry_uses_nearest_and_warns_once(self):
        shape = (12, 100)
        nearest = ref.nearest_shape(shape, SCHEDULES)
        self.assertEqual(nearest, (8, 27))  # by the documented distance; not the largest entry
        param = torch.nn.Parameter(torch.randn(shape))
        optimizer = ROOT([param], table=self.table, lr=0.05, precision="fp32")
        momentum = torch.zeros(shape, dtype=torch.float64)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for seed in range(2):
                param.grad = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
                expected, momentum, x_ref = ref.root_step(param.detach(), param.grad, momentum,
                                                          SCHEDULES[nearest], lr=0.05)
                optimizer.step()
                torch.testing.assert_close(param.double(), expected, rtol=0, atol=1e-6)
        fallback = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        self.assertEqual(len(fallback), 1, fallback)
        (schedule,) = optimizer.schedules().values()
        self.assertEqual(schedule["origin"], "nearest")
        self.assertEqual(tuple(schedule["source"]), nearest)

    def test_fallback_error_refuses_unknown_shapes(self):
        param = torch.nn.Parameter(torch.randn(12, 100))
        optimizer = ROOT([param], table=self.table, fallback="error")
        param.grad = torch.randn(12, 100)
        with self.assertRaises(RuntimeError):
            optimizer.step()
        self.assertTrue(issubclass(rootopt.Error, RuntimeError))

    def test_bad_inputs_fail_clearly(self):
        param = torch.nn.Parameter(torch.randn(16, 40))
        with self.assertRaisesRegex(RuntimeError, "missing.h5"):
            ROOT([param], table=f"{self.tmp.name}/missing.h5")
        with self.assertRaises((RuntimeError, ValueError)):
            ROOT([param], table=self.table, threshold_quantile=1.5)
        with self.assertRaisesRegex(ValueError, "scale"):
            ROOT([param], table=self.table, scale="sqrt")
        # A bad parameter in a later group raises before the earlier groups are updated.
        good = torch.nn.Parameter(torch.randn(16))
        double = torch.nn.Parameter(torch.randn(16, 40, dtype=torch.float64))
        optimizer = ROOT([{"params": [good]}, {"params": [double]}], table=self.table)
        good.grad, double.grad = torch.randn(16), torch.randn(16, 40, dtype=torch.float64)
        before = good.detach().clone()
        with self.assertRaisesRegex(ValueError, "float32 or bfloat16"):
            optimizer.step()
        self.assertTrue(torch.equal(good, before))
        with self.assertRaisesRegex(RuntimeError, "unknown schedule 'foo'"):
            Muon([param], schedule="foo")
        optimizer = ROOT([param], table=self.table)
        with self.assertRaisesRegex(ValueError, "precision"):
            optimizer.add_param_group({"params": [torch.nn.Parameter(torch.randn(3, 3))],
                                       "precision": "fp16"})
        self.assertEqual(len(optimizer.param_groups), 1)  # the rejected group left nothing
        transposed = torch.nn.Parameter(torch.randn(40, 16).t())
        optimizer = ROOT([("transposed", transposed)], table=self.table)
        transposed.grad = torch.randn(16, 40)
        with self.assertRaisesRegex(ValueError, "transposed is not contiguous"):
            optimizer.step()


if __name__ == "__main__":
    unittest.main()
