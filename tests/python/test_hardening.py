"""Bad input to rootopt.torch.ROOT (issue 12): loaded state of the wrong size, dtype or values,
hyperparameters that become invalid after construction, non-finite gradients on AdamW-routed
parameters, an empty table path, values that float32 cannot hold. Each must raise (or skip and
warn) naming what is wrong, and leave weights and optimizer state exactly as they were."""
import copy
import os
import unittest
import warnings

import torch

import reference as ref
import rootopt
from rootopt.torch import ROOT


class Model(torch.nn.Module):
    """A 256x1024 matrix (the probe's shape), a 1-D bias and an output head routed to AdamW."""

    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(7)
        self.weight = torch.nn.Parameter(0.02 * torch.randn(256, 1024, generator=generator))
        self.bias = torch.nn.Parameter(torch.randn(256, generator=generator))
        self.head = torch.nn.Parameter(torch.randn(10, 256, generator=generator))

    def groups(self):
        return [{"params": [("weight", self.weight), ("bias", self.bias)]},
                {"params": [("head", self.head)], "use_root": False, "lr": 3e-3}]


def set_grads(model, seed):
    generator = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        p.grad = torch.randn(p.shape, generator=generator)


def same(a, b):
    """Bit for bit (NaN equal to the same NaN)."""
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    return a.shape == b.shape and a.dtype == b.dtype and \
        a.numpy().tobytes() == b.numpy().tobytes()


def snapshot(model, optimizer):
    """Every weight and every state tensor, copied."""
    state = {name: {k: (v.clone() if isinstance(v, torch.Tensor) else v)
                    for k, v in optimizer.state[p].items()}
             for name, p in model.named_parameters()}
    return {name: p.detach().clone() for name, p in model.named_parameters()}, state


class HardeningTest(ref.TableTestCase):
    def setUp(self):
        warnings.simplefilter("ignore", RuntimeWarning)  # fallback shapes of the test table
        self.addCleanup(warnings.resetwarnings)

    def trained(self, steps=2):
        model = Model()
        optimizer = ROOT(model.groups(), table=self.table, lr=1e-2, precision="fp32")
        for seed in range(steps):
            set_grads(model, seed)
            optimizer.step()
        return model, optimizer

    def assert_unchanged(self, model, optimizer, before):
        weights, state = before
        for name, p in model.named_parameters():
            self.assertTrue(torch.equal(p, weights[name]), f"{name} changed")
            for key, value in state[name].items():
                now = optimizer.state[p][key]
                self.assertTrue(same(now, value), f"{name}.{key} changed")

    def test_loaded_momentum_of_the_wrong_size_dtype_or_values_is_refused(self):
        model, optimizer = self.trained()
        saved = optimizer.state_dict()
        # The probe's cases: 200000 elements for a 256x1024 parameter (heap corruption on the
        # next step), 10 elements (reads and writes past the end); then dtype, shape, values.
        cases = {"200000 elements": (torch.zeros(200000), "shape \\[200000\\], expected "
                                                          "\\[256, 1024\\]"),
                 "10 elements": (torch.zeros(10), "shape \\[10\\]"),
                 "transposed": (torch.zeros(1024, 256), "shape \\[1024, 256\\]"),
                 "float64": (torch.zeros(256, 1024, dtype=torch.float64), "dtype torch.float64"),
                 "bfloat16": (torch.zeros(256, 1024, dtype=torch.bfloat16), "dtype"),
                 "a list": ([0.0] * 10, "is a list, not a tensor"),
                 "NaN": (torch.zeros(256, 1024).index_fill_(1, torch.tensor([3]), float("nan")),
                         "holds NaN or Inf"),
                 "Inf": (torch.full((256, 1024), float("inf")), "holds NaN or Inf")}
        for what, (buffer, message) in cases.items():
            with self.subTest(what):
                bad = copy.deepcopy(saved)
                bad["state"][0]["momentum_buffer"] = buffer
                before = snapshot(model, optimizer)
                with self.assertRaisesRegex(ValueError, "momentum_buffer' of parameter weight .*"
                                            + message):
                    optimizer.load_state_dict(bad)
                self.assert_unchanged(model, optimizer, before)
                self.assertEqual(optimizer.param_groups[1]["lr"], 3e-3)
        bad = copy.deepcopy(saved)
        bad["state"][2]["exp_avg"] = torch.zeros(5)  # the head's AdamW moment
        with self.assertRaisesRegex(ValueError, "'exp_avg' of parameter head has shape \\[5\\]"):
            optimizer.load_state_dict(bad)
        # The valid state still loads and steps.
        optimizer.load_state_dict(saved)
        set_grads(model, 5)
        optimizer.step()

    def test_momentum_replaced_by_hand_is_checked_before_the_step(self):
        model, optimizer = self.trained(1)
        for what, buffer, message in [
                ("short", torch.zeros(10), "has shape \\[10\\], expected \\[256, 1024\\]"),
                ("strided", torch.zeros(1024, 256).t(), "is not contiguous"),
                ("float64", torch.zeros(256, 1024, dtype=torch.float64), "has dtype torch.float64"),
                ("NaN", torch.full((256, 1024), float("nan")), "holds NaN or Inf")]:
            with self.subTest(what):
                good = optimizer.state[model.weight]["momentum_buffer"]
                optimizer.state[model.weight]["momentum_buffer"] = buffer
                set_grads(model, 1)
                before = snapshot(model, optimizer)
                with self.assertRaisesRegex(ValueError,
                                            "momentum_buffer of parameter weight " + message):
                    optimizer.step()
                self.assert_unchanged(model, optimizer, before)
                optimizer.state[model.weight]["momentum_buffer"] = good

    def test_invalid_hyperparameters_set_after_construction_change_nothing(self):
        for group_index, key, value, message in [
                (0, "lr", float("nan"), "lr = nan"),
                (1, "lr", float("nan"), "lr = nan"),
                (1, "adamw_lr", -1.0, "adamw lr = -1.0"),
                (1, "momentum", 1.5, "momentum = 1.5"),
                (0, "adamw_betas", (0.9, 1.0), "adamw_betas\\[1\\] = 1.0"),
                (1, "adamw_eps", 0.0, "adamw_eps = 0.0"),
                (0, "flatten", "yes", "flatten must be None, True or False")]:
            with self.subTest(f"group {group_index} {key}={value}"):
                model, optimizer = self.trained(1)
                twin, twin_optimizer = self.trained(1)
                optimizer.param_groups[group_index][key] = value
                set_grads(model, 1)
                before = snapshot(model, optimizer)
                with self.assertRaisesRegex((ValueError, rootopt.Error),
                                            message + f".*param group {group_index}"):
                    optimizer.step()
                self.assert_unchanged(model, optimizer, before)
                # Fixed and retried: exactly one step, as the twin that never failed.
                optimizer.param_groups[group_index][key] = twin_optimizer.param_groups[
                    group_index][key]
                optimizer.step()
                set_grads(twin, 1)
                twin_optimizer.step()
                for (name, p), q in zip(model.named_parameters(), twin.parameters()):
                    self.assertTrue(torch.equal(p, q), f"{name}: the retried step differs")

    def test_nan_gradient_on_adamw_parameters_is_skipped_like_root(self):
        model, optimizer = self.trained(1)
        for name in ("bias", "head"):
            for bad in (float("nan"), float("inf")):
                with self.subTest(f"{name} {bad}"):
                    set_grads(model, 2)
                    getattr(model, name).grad[3] = bad
                    before = snapshot(model, optimizer)
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        optimizer.step()
                    messages = [str(w.message) for w in caught]
                    self.assertTrue(any("non-finite gradient" in m and name in m
                                        for m in messages), messages)
                    p = getattr(model, name)
                    weights, state = before
                    self.assertTrue(torch.equal(p, weights[name]))
                    for key in ("exp_avg", "exp_avg_sq", "step"):
                        self.assertTrue(torch.equal(optimizer.state[p][key], state[name][key]))
                    self.assertFalse(torch.equal(model.weight, weights["weight"]))  # others step
                    self.assertTrue(torch.isfinite(p).all())

    def test_empty_table_path_is_an_error(self):
        param = torch.nn.Parameter(torch.randn(16, 40))
        with self.assertRaisesRegex(ValueError, "table='' is an empty path"):
            ROOT([param], table="")

    def test_values_float32_cannot_hold_are_reported_as_given(self):
        param = torch.nn.Parameter(torch.randn(16, 40))
        with self.assertRaisesRegex(ValueError, "threshold_quantile = 1e-300 underflows to 0"):
            ROOT([param], table=self.table, threshold_quantile=1e-300)
        with self.assertRaisesRegex(ValueError, "lr = 1e\\+300 is too large for float32"):
            ROOT([param], table=self.table, lr=1e300)
        # The runtime prints a refused value exactly: the float after 1 is not "1".
        with self.assertRaisesRegex(rootopt.Error, "threshold_quantile = 1.0000001 must lie"):
            ROOT([param], table=self.table, threshold_quantile=1.0000001)

    def test_arguments_after_params_are_keyword_only(self):
        param = torch.nn.Parameter(torch.randn(16, 40))
        with self.assertRaises(TypeError):
            ROOT([param], self.table)
        with self.assertRaises(TypeError):
            rootopt.torch.Muon([param], 0.01)

    def test_table_is_read_once(self):
        # Two groups and a parameter added later each need their own runtime instance; the
        # table file is gone before any of them is made.
        path = f"{self.tmp.name}/once.h5"
        ref.write_table(path, ref.TEST_SCHEDULES)
        a, b, c = (torch.nn.Parameter(torch.randn(16, 40)) for _ in range(3))
        optimizer = ROOT([{"params": [a]}, {"params": [b], "lr": 0.5}], table=path)
        os.remove(path)
        optimizer.add_param_group({"params": [c], "precision": "fp32"})
        for p in (a, b, c):
            p.grad = torch.randn(16, 40)
        optimizer.step()
        self.assertEqual(optimizer.schedules()["group1.param0[16, 40]"]["origin"], "exact")


if __name__ == "__main__":
    unittest.main()
