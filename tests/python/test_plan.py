"""rootopt._plan on its own: matrix views, the cost estimate, owner balancing and the rows that
travel for sharded parameters. Plain numbers, no processes."""
import itertools
import random
import unittest

from rootopt import _plan

STANDARD = {"steps": 5, "form": "standard", "restarts": [], "tail_steps": 0,
            "tail_precision": "fp32"}


class ViewTest(unittest.TestCase):
    def test_default_views_and_overrides(self):
        view = _plan.matrix_view
        self.assertEqual(view((16, 40)), _plan.MatrixView(1, 16, 40, 0))
        self.assertEqual(view((8, 16, 40)), _plan.MatrixView(8, 16, 40, 1))  # stacked experts
        self.assertEqual(view((8, 3, 3, 3)), _plan.MatrixView(1, 8, 27, 0))  # conv kernel
        self.assertEqual(view((8, 16, 40), flatten=True), _plan.MatrixView(1, 8, 640, 0))
        self.assertEqual(view((8, 3, 5, 7), flatten=False), _plan.MatrixView(24, 5, 7, 3))
        self.assertEqual(view((16, 40), flatten=False), _plan.MatrixView(1, 16, 40, 0))
        with self.assertRaisesRegex(ValueError, "two or more dimensions"):
            view((16,))


def gemm_flops(recipe, r, n):
    """Flops of the GEMMs docs/recipes.md writes out for one r x n matrix (r <= n), walking the
    algorithm's text step by step: m x k times k x n is m k n, a symmetric result half of it."""
    flops = 0
    if recipe["form"] == "standard":
        for _ in range(recipe["steps"]):
            flops += r * n * r / 2  # A = X X^T, symmetric
            flops += r * r * r / 2  # A A, symmetric
            flops += r * r * n      # P X
        return flops
    flops += r * n * r / 2          # R = X0 X0^T
    q_identity = True
    for k in range(1, recipe["steps"] + 1):
        flops += r * r * r / 2      # R2 = R R (symmetric)
        if not q_identity:
            flops += r * r * r      # Q = H Q
        q_identity = False
        if k == recipe["steps"]:
            break
        if k in recipe["restarts"]:
            flops += r * r * n + r * n * r / 2  # X0 = Q X0, R = X0 X0^T
            q_identity = True
        else:
            flops += r * r * r + r * r * r / 2  # T = H R, R = T H (symmetric)
    flops += r * r * n              # X_K = Q X0
    return flops


class CostTest(unittest.TestCase):
    def test_cost_is_the_gemm_flops_of_the_recipe(self):
        # In units of multiply-adds x 2 (the cost model's convention doubles every product).
        recipes = [STANDARD, dict(STANDARD, steps=7),
                   dict(STANDARD, form="gram", steps=5, restarts=[2]),
                   dict(STANDARD, form="gram", steps=6, restarts=[1, 3])]
        for recipe in recipes:
            for rows, cols in [(16, 40), (40, 16), (64, 64), (7, 300)]:
                with self.subTest(recipe=recipe, shape=(rows, cols)):
                    r, n = min(rows, cols), max(rows, cols)
                    self.assertAlmostEqual(_plan.matrix_cost(rows, cols, recipe),
                                           2 * gemm_flops(recipe, r, n), delta=1e-9 * r * r * n)

    def test_precision_weights_on_the_gpu(self):
        tail = dict(STANDARD, tail_steps=2, tail_precision="fp32")
        per_step = _plan.matrix_cost(64, 256, dict(STANDARD, steps=1), "bf16", "cuda")
        self.assertEqual(_plan.matrix_cost(64, 256, tail, "bf16", "cuda"), (3 + 2 * 15) * per_step)
        self.assertEqual(_plan.matrix_cost(64, 256, tail, "bf16", "cpu"), 5 * per_step)
        self.assertEqual(_plan.matrix_cost(64, 256, STANDARD, "fp32", "cuda"), 75 * per_step)


def contiguous_optimum(costs, preload):
    """Brute force: the smallest maximum load over every way to cut `costs` (in this order)
    into len(preload) contiguous runs."""
    world, best = len(preload), float("inf")
    for cuts in itertools.combinations_with_replacement(range(len(costs) + 1), world - 1):
        bounds = (0,) + cuts + (len(costs),)
        loads = [preload[r] + sum(costs[bounds[r]:bounds[r + 1]]) for r in range(world)]
        best = min(best, max(loads))
    return best


class BalanceTest(unittest.TestCase):
    def test_balance_is_optimal_for_its_order_and_near_the_mean(self):
        rng = random.Random(3)
        for trial in range(200):
            world = rng.randint(1, 4)
            count = rng.randint(1, 7)
            costs = [rng.choice([1.0, 2.0, 5.0, rng.random() * 10]) for _ in range(count)]
            groups = [rng.randint(0, 2) for _ in range(count)]
            preload = [rng.choice([0.0, 0.0, 3.0]) for _ in range(world)]
            owners = _plan.balance(costs, groups, preload)
            loads = list(preload)
            for cost, owner in zip(costs, owners):
                loads[owner] += cost
            # The order the planner cuts: groups by total cost, items by cost, both largest first.
            totals = {g: sum(c for c, h in zip(costs, groups) if h == g) for g in groups}
            first = {g: groups.index(g) for g in groups}
            order = sorted(range(count), key=lambda i: (-totals[groups[i]], first[groups[i]],
                                                        -costs[i], i))
            with self.subTest(trial=trial):
                self.assertLessEqual(max(loads), contiguous_optimum(
                    [costs[i] for i in order], preload) * (1 + 1e-9))
                self.assertLessEqual(max(loads), max(max(preload), (sum(costs) + sum(preload)) /
                                                     world) + max(costs) + 1e-9)
                # Owners are non-decreasing along the order: each rank gets one run.
                self.assertEqual([owners[i] for i in order], sorted(owners[i] for i in order))

    def test_same_shape_groups_stay_together_when_they_can(self):
        # Four groups of four equal matrices on four ranks: one group per rank.
        costs = [1.0] * 16
        groups = [i // 4 for i in range(16)]
        owners = _plan.balance(costs, groups, [0.0] * 4)
        for g in range(4):
            self.assertEqual(len({owners[i] for i in range(16) if groups[i] == g}), 1)


def param(name, dim0, rows=None, per_row0=0, cost=1.0, group=None):
    return _plan.PlanParam(name, dim0, rows, per_row0, cost, group or (name,))


class PlanTest(unittest.TestCase):
    def test_replicated_parameters_have_one_owner_each(self):
        params = [param(f"w{i}", 8, cost=float(i + 1)) for i in range(5)]
        plan = _plan.Plan(params, 2)
        self.assertEqual(sorted(u.param for u in plan.units), list(range(5)))
        self.assertEqual(plan.segments, [])
        self.assertEqual(sum(plan.loads), 15.0)
        self.assertEqual(max(plan.loads), 9.0)  # runs in cost order: 5 + 4 | 3 + 2 + 1

    def test_sharded_experts_stay_where_they_are(self):
        experts = param("experts", 5, rows=(2, 2, 1, 0), per_row0=1, cost=10.0)
        plan = _plan.Plan([experts], 4)
        self.assertEqual([(u.start, u.stop, u.owner) for u in plan.units],
                         [(0, 2, 0), (2, 4, 1), (4, 5, 2)])
        self.assertEqual(plan.segments, [])
        self.assertEqual(plan.loads, [4.0, 4.0, 2.0, 0.0])

    def test_split_matrix_rows_travel_to_the_owner_and_back(self):
        # A 10-row matrix over 3 ranks (4, 4, 2) and a matrix held by rank 1 alone.
        split = param("split", 10, rows=(4, 4, 2), cost=6.0)
        alone = param("alone", 3, rows=(0, 3, 0), cost=5.0)
        plan = _plan.Plan([split, alone], 3)
        self.assertEqual(plan.unit(1, 1), _plan.Unit(1, 0, 3, 1))  # stepped where it lives
        (unit,) = [u for u in plan.units if u.param == 0]
        self.assertEqual((unit.start, unit.stop), (0, 10))
        self.assertNotEqual(unit.owner, 1)  # rank 1 carries the other matrix
        expected = [_plan.Segment(0, start, stop, src, unit.owner)
                    for src, (start, stop) in enumerate([(0, 4), (4, 8), (8, 10)])
                    if src != unit.owner]
        self.assertEqual(plan.segments, expected)
        self.assertTrue(plan.assembled(0))
        self.assertFalse(plan.assembled(1))

    def test_inconsistent_shards_are_refused(self):
        with self.assertRaisesRegex(ValueError, "hold 9 rows of dimension 0, expected 10"):
            _plan.Plan([param("w", 10, rows=(4, 5))], 2)
        with self.assertRaisesRegex(ValueError, "has 2 shard sizes for 3 ranks"):
            _plan.Plan([param("w", 10, rows=(5, 5))], 3)


if __name__ == "__main__":
    unittest.main()
