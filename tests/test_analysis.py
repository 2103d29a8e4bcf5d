"""relu1d.analysis: knots, the spline, TV(1), the weight g, weighted TV(1), effective knots, the Gram
matrix and the stability report, against direct evaluations of the definitions (PAPER.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference as ref
import relu1d
from helpers import assert_within, interpolating_labels
from relu1d import analysis
from relu1d.testing import problems

EPS = ref.EPS


# ------------------------------------------------------------------------------------------------
# Direct references


def g_direct(x, t):
    """The definition of g at each t, one O(n) pass per point (X uniform over x)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(len(t))
    for i, ti in enumerate(t):
        if not (x.min() < ti < x.max()):
            continue
        above, below = x[x > ti], x[x < ti]
        p_above, p_below = above.size / x.size, below.size / x.size
        g_plus = p_above ** 2 * (above.mean() - ti) * np.sqrt(1 + above.mean() ** 2)
        g_minus = p_below ** 2 * (ti - below.mean()) * np.sqrt(1 + below.mean() ** 2)
        out[i] = min(g_plus, g_minus)
    return out


def g_uniform(t, a=1.0):
    """Population weight of X ~ Uniform[-a, a] (PAPER.md)."""
    t = np.abs(np.asarray(t, dtype=np.float64))
    return (a - t) ** 3 / (8 * a ** 2) * np.sqrt(1 + (a + t) ** 2 / 4)


def weighted_tv1_direct(theta, x):
    """sum over distinct knots of |sum of the jumps there| g(t), from the raw neurons."""
    w, b, v, _ = ref.split(theta)
    keep = (w != 0) & (v != 0)
    t = -b[keep] / w[keep]
    jumps = v[keep] * np.abs(w[keep])
    positions = np.unique(t)
    merged = np.array([jumps[t == p].sum() for p in positions])
    return float(np.sum(np.abs(merged) * g_direct(x, positions))), positions, merged


def all_neurons_abs(theta, x):
    """|c| + sum_k |v_k| (|w_k| |x| + |b_k|) over every neuron: a rounding scale for f(x)."""
    w, b, v, c = ref.split(theta)
    return np.abs(np.multiply.outer(np.abs(x), np.abs(w)) + np.abs(b)) @ np.abs(v) + abs(c)


def trained_run(lr=0.05, steps=4000, n=24, width=30, clip=None):
    x, y = relu1d.make_data(n, sigma=0.3, target="hat", rng=0)
    obj = relu1d.Objective(x, y)
    theta0 = relu1d.init_params(width, rng=1)
    return relu1d.train(obj, theta0, lr=lr, steps=steps, clip=clip, record_every=100, sharpness_every=500,
                        progress=False)


# ------------------------------------------------------------------------------------------------
# The weight g


def test_g_matches_uniform_closed_form():
    """A large even sample of U[-1, 1] gives the population weight up to O(1/n); g(0) = 0.139754."""
    x = np.linspace(-1.0, 1.0, 200_001)
    t = np.linspace(-0.95, 0.95, 39)
    assert_within(analysis.g_weight(x, t), g_uniform(t), 1e-5, "g of an even sample against the closed form")
    assert abs(analysis.g_weight(x, [0.0])[0] - 0.139754) < 1e-5
    # a random sample: within a few standard errors (~1/sqrt(n)) of the population weight
    xr = np.random.default_rng(0).uniform(-1, 1, 100_000)
    assert_within(analysis.g_weight(xr, t), g_uniform(t), 0.005, "g of a random U[-1, 1] sample")


def test_g_vanishes_outside_the_open_range_and_is_symmetric():
    x = np.random.default_rng(1).normal(size=301)
    lo, hi = x.min(), x.max()
    outside = [lo, hi, lo - 1, hi + 3, -1e300, 1e300]
    np.testing.assert_array_equal(analysis.g_weight(x, outside), 0.0)
    t = np.linspace(lo, hi, 101)[1:-1]
    assert (analysis.g_weight(x, t) > 0).all()
    # symmetric data: g(t) = g(-t) to rounding
    xs = np.concatenate([x, -x])
    g, g_mirror = analysis.g_weight(xs, t), analysis.g_weight(xs, -t)
    assert_within(g, g_mirror, 64 * EPS * (1 + np.abs(xs).max()) ** 3, "g on symmetric data")


@given(st.lists(st.integers(-40, 40), min_size=1, max_size=25), st.lists(st.integers(-45, 45), max_size=20))
def test_g_against_the_definition_at_every_point(xi, ti):
    """Small samples with ties: g at every data point, every midpoint and a few other points."""
    x = np.array(xi, dtype=np.float64) / 8
    xs = np.unique(x)
    t = np.concatenate([x, (xs[1:] + xs[:-1]) / 2, np.array(ti, dtype=np.float64) / 8 + 1 / 64])
    scale = (1 + np.abs(x).max()) ** 2 * (np.abs(x).max() + np.abs(t).max() + 1)
    assert_within(analysis.g_weight(x, t), g_direct(x, t), 64 * x.size * EPS * scale, "g against its definition")


def test_g_shapes_and_objective_input():
    x, y = relu1d.make_data(20, rng=3)
    obj = relu1d.Objective(x, y)
    t = np.linspace(-1, 1, 12).reshape(3, 4)
    out = analysis.g_weight(obj, t)
    assert out.shape == (3, 4)
    np.testing.assert_array_equal(out, analysis.g_weight(x, t))
    assert analysis.g_weight(x, 0.1).shape == ()


# ------------------------------------------------------------------------------------------------
# Knots, spline, TV(1)


def special_theta():
    """Ties (two neurons sharing a knot, two cancelling), w = 0 with b > 0 and b <= 0, v = 0, a dead
    neuron, knots on data points."""
    w = np.array([1.0, 2.0, -1.0, 0.0, 0.0, 3.0, 1.5, -0.5, 1.0, 4.0, 0.5])
    b = np.array([0.25, 0.5, 0.3, 0.7, -0.2, -0.3, 1.5, -5.0, -0.5, -2.0, -0.25])
    v = np.array([0.8, -0.1, 1.2, 0.9, 2.0, 0.0, -0.7, 1.0, 0.6, -0.6, -1.2])
    return relu1d.pack(w, b, v, 0.1)


def test_knots_raw_and_merged():
    theta = special_theta()
    k = analysis.knots(theta)
    w, b, v, c = relu1d.unpack(theta)
    expected = np.flatnonzero((w != 0) & (v != 0))
    np.testing.assert_array_equal(k.neurons, expected)
    np.testing.assert_array_equal(k.positions, -b[expected] / w[expected])
    np.testing.assert_array_equal(k.jumps, v[expected] * np.abs(w[expected]))
    # neurons 0 and 1 share t = -0.25 (jumps 0.8 and -0.2); 9 and 10 share t = 0.5 with jumps -2.4 and -0.6;
    # neuron 8 (t = 0.5, jump 0.6) ... the merged table is the sum per distinct position
    for t in np.unique(k.positions):
        total = k.jumps[k.positions == t].sum()
        if total == 0:
            assert t not in k.merged_positions
        else:
            i = np.flatnonzero(k.merged_positions == t)
            assert i.size == 1 and abs(k.merged_jumps[i[0]] - total) <= 4 * EPS * np.abs(k.jumps).sum()
    assert np.all(np.diff(k.merged_positions) > 0)
    assert k.offset == pytest.approx(c + 0.9 * 0.7)  # only the w = 0, b > 0 neuron shifts the constant
    # exact cancellation drops the knot
    theta2 = relu1d.pack([1.0, 1.0], [0.5, 0.5], [0.3, -0.3], 0.0)
    assert analysis.knots(theta2).count == 0
    assert analysis.tv1(theta2) == 0.0


@given(problems(max_n=20, max_width=8))
def test_spline_reproduces_predict(problem):
    """On a dense grid with the special neurons of the strategy (ties, w = 0, dead, knots on data)."""
    x, _, theta = problem
    m = (theta.size - 1) // 3
    lo, hi = float(x.min()) - 1.0, float(x.max()) + 1.0
    s = analysis.spline(theta, lo, hi)
    grid = np.concatenate([np.linspace(lo, hi, 501), x, s.breakpoints])
    w, _, v, _ = ref.split(theta)
    scale = all_neurons_abs(theta, grid) + np.sum(np.abs(v * w)) * (np.abs(grid) + abs(lo) + 1)
    assert_within(s(grid), relu1d.predict(theta, grid), 8 * ref.tolerance(1, m) * scale, "spline vs predict")
    assert_within(s.tv1, analysis.tv1(theta, lo, hi), 8 * ref.tolerance(1, m) * np.sum(np.abs(v * w)),
                  "tv1 vs the spline's slope variation")


def test_spline_pieces_and_errors():
    theta = special_theta()
    s = analysis.spline(theta, -3.0, 3.0)
    k = analysis.knots(theta)
    inside = k.merged_positions[(k.merged_positions > -3) & (k.merged_positions < 3)]
    np.testing.assert_array_equal(s.breakpoints, np.concatenate([[-3.0], inside, [3.0]]))
    assert s.slopes.size == s.values.size - 1 == inside.size + 1
    assert json.loads(json.dumps(s.to_dict()))["breakpoints"][0] == -3.0
    with pytest.raises(ValueError, match="x:"):
        s([3.5])
    with pytest.raises(ValueError, match="lo, hi"):
        analysis.spline(theta, 1.0, 1.0)
    with pytest.raises(ValueError, match="lo, hi"):
        analysis.tv1(theta, 2.0, -1.0)
    with pytest.raises(ValueError, match="lo"):
        analysis.spline(theta, np.nan, 1.0)
    with pytest.raises(ValueError, match="hi"):
        analysis.spline(theta, 0.0, np.inf)
    with pytest.raises(ValueError, match="lo"):
        analysis.tv1(theta, np.nan, 1.0)


def test_tv1_counts_the_knots_strictly_inside():
    theta = relu1d.pack([1.0, -2.0, 1.0], [0.0, 1.0, -0.5], [1.0, 0.5, -3.0], 0.0)  # knots 0, 0.5, 0.5
    assert analysis.tv1(theta) == pytest.approx(1.0 + abs(1.0 - 3.0))
    assert analysis.tv1(theta, 0.0, 0.5) == 0.0            # both knots on the ends: none inside
    assert analysis.tv1(theta, -1, 0.25) == pytest.approx(1.0)
    assert analysis.tv1(theta, 0.25, 1) == pytest.approx(2.0)


# ------------------------------------------------------------------------------------------------
# Weighted TV(1) and effective knots


@given(problems(min_n=2, max_n=20, max_width=8))
def test_weighted_tv1_against_the_definition(problem):
    x, _, theta = problem
    m = (theta.size - 1) // 3
    direct, positions, merged = weighted_tv1_direct(theta, x)
    scale = np.sum(np.abs(merged) * (g_direct(x, positions) + 1)) * (1 + np.abs(x).max()) ** 3
    assert_within(analysis.weighted_tv1(theta, x), direct, 64 * (x.size + m) * EPS * scale,
                  "weighted TV(1) against the definition")


def test_tracking_along_a_run_equals_the_direct_computation():
    """What train records (the sort warm-started from the previous measurement, one computation
    shared by two columns) equals weighted_tv1 and effective_knots to the bit, also when knots
    swap order, appear, vanish or tie between steps."""
    from relu1d import _core

    rng = np.random.default_rng(5)
    x = np.sort(rng.uniform(-1, 1, 40))
    theta = relu1d.init_params(60, rng=6)
    thetas = []
    for step in range(40):
        theta = theta + rng.normal(scale=0.02 if step % 10 else 0.5, size=theta.size)  # small moves, big jumps
        t = theta.copy()
        m = (t.size - 1) // 3
        if step % 7 == 3:
            t[2 * m + 5] = 0.0                       # v = 0: knot vanishes
            t[7], t[m + 7] = 0.0, 0.4                # w = 0, b > 0: a constant neuron
            t[9], t[m + 9], t[2 * m + 9] = t[8], t[m + 8], -t[2 * m + 8]  # two knots that cancel exactly
            t[11], t[m + 11] = t[10], t[m + 10]      # a shared knot
        thetas.append(t)
    thetas = np.array(thetas)
    wtv1, count = _core.function_space_track(x, thetas)
    for i, t in enumerate(thetas):
        assert wtv1[i] == analysis.weighted_tv1(t, x), i
        assert count[i] == analysis.effective_knots(t, x).count, i


def test_effective_knots_threshold_and_distances():
    x = np.linspace(-1, 1, 11)                        # spacing 0.2
    # knots at -0.5 (jump 1), 0.05 (jump 2), 0.33 (jump 0.01), 1.5 (outside, jump 5)
    w = np.array([1.0, -1.0, 1.0, 1.0])
    b = np.array([0.5, 0.05, -0.33, -1.5])
    v = np.array([1.0, 2.0, 0.01, 5.0])
    theta = relu1d.pack(w, b, v, 0.0)
    ek = analysis.effective_knots(theta, x, rel_tol=0.01)
    assert ek.total == pytest.approx(3.01)
    np.testing.assert_allclose(ek.positions, [-0.5, 0.05])
    np.testing.assert_allclose(ek.jumps, [1.0, 2.0])
    np.testing.assert_allclose(ek.distances, [0.1, 0.05], atol=1e-15)
    assert ek.spacing == pytest.approx(0.2) and len(ek) == 2
    assert analysis.effective_knots(theta, x, rel_tol=0.0).count == 3
    assert analysis.effective_knots(theta, x, rel_tol=0.5).count == 1
    none = analysis.effective_knots(relu1d.pack([1.0], [-2.0], [1.0], 0.0), x)  # knot outside
    assert none.count == 0 and none.total == 0.0


def permute_neurons(theta, perm):
    w, b, v, c = relu1d.unpack(theta)
    return relu1d.pack(w[perm], b[perm], v[perm], c)


def rescale_neurons(theta, a):
    w, b, v, c = relu1d.unpack(theta)
    return relu1d.pack(a * w, a * b, v / a, c)


@given(problems(min_n=3, max_n=20, max_width=8), st.randoms(use_true_random=False))
def test_function_space_is_invariant_under_permutation_and_rescaling(problem, random):
    x, y, theta = problem
    m = (theta.size - 1) // 3
    perm = np.array(random.sample(range(m), m))
    a = np.array([2.0 ** random.randint(-3, 3) for _ in range(m)])  # powers of two: exact rescaling
    base = analysis.weighted_tv1(theta, x)
    w, _, v, _ = ref.split(theta)
    tol = 4 * ref.tolerance(1, m) * np.sum(np.abs(v * w))
    for other in (permute_neurons(theta, perm), rescale_neurons(theta, a)):
        k0, k1 = analysis.knots(theta), analysis.knots(other)
        np.testing.assert_array_equal(k1.merged_positions, k0.merged_positions)
        assert_within(k1.merged_jumps, k0.merged_jumps, tol, "merged jumps")
        assert_within(analysis.weighted_tv1(other, x), base, tol * (1 + np.abs(x).max()) ** 3, "weighted TV(1)")
        assert_within(analysis.tv1(other), analysis.tv1(theta), tol, "TV(1)")
        e0 = analysis.effective_knots(theta, x, rel_tol=0.0)
        np.testing.assert_array_equal(analysis.effective_knots(other, x, rel_tol=0.0).positions, e0.positions)


def test_rescaling_changes_the_sharpness_but_not_the_function():
    """(w, b, v) -> (a w, a b, v / a) keeps f and every function-space quantity; the Hessian is not
    invariant, so the sharpness moves: it depends on the parameterisation, the bound does not."""
    run = trained_run(steps=3000)
    obj, theta = run.objective, run.theta
    other = rescale_neurons(theta, np.full(run.width, 3.0))
    x = obj.x
    assert_within(relu1d.predict(other, x), relu1d.predict(theta, x), 1e-12, "f after rescaling")
    assert analysis.weighted_tv1(other, obj) == pytest.approx(analysis.weighted_tv1(theta, obj), rel=1e-12)
    assert analysis.effective_knots(other, obj).count == analysis.effective_knots(theta, obj).count
    s0 = relu1d.sharpness(obj, theta).value
    s1 = relu1d.sharpness(obj, other).value
    assert abs(s1 - s0) > 0.1 * s0, (s0, s1)


# ------------------------------------------------------------------------------------------------
# The Gram matrix


def gram_scale(x, theta):
    """(1 + sum_k a a [(|w x_i| + |b|)(|w x_j| + |b|) + v^2 (|x_i x_j| + 1)]) / n."""
    w, b, v, _ = ref.split(theta)
    _, A = ref.preactivations(x, theta)
    Za = A * (np.abs(np.multiply.outer(x, w)) + np.abs(b))
    Aa = A * 1.0
    ax = np.abs(x)
    return (1 + Za @ Za.T + (Aa * v ** 2) @ Aa.T * (np.multiply.outer(ax, ax) + 1)) / x.size


@given(problems(max_n=25, max_width=8))
def test_gram_equals_dense_jacobian_product(problem):
    x, y, theta = problem
    m = (theta.size - 1) // 3
    obj = relu1d.Objective(x, y)
    J = ref.jacobian(x, theta)
    assert_within(analysis.gram(obj, theta), J @ J.T / x.size, 8 * ref.tolerance(1, m) * gram_scale(x, theta),
                  "gram vs J J^T / n")


@given(problems(min_n=2, max_n=20, max_width=6, x_scale=2.0, weight_scale=2.0))
def test_gram_top_eigenvalue_is_the_sharpness_at_zero_residual(problem):
    x, _, theta = problem
    obj = relu1d.Objective(x, interpolating_labels(x, theta, "fast"))
    lam_h = np.linalg.eigvalsh(obj.hessian(theta))[-1]
    lam_g = np.linalg.eigvalsh(analysis.gram(obj, theta))[-1]
    assert abs(lam_g - lam_h) <= 1e-10 * lam_h


@given(problems(min_n=1, max_n=25, max_width=8))
def test_interpolation_oracle(problem):
    """Mulayoff et al. (2021), Lemma 4: with zero residual (labels = the network's own outputs),
    lambda_max(H) >= 1 + 2 integral |f''| g, for every network."""
    x, _, theta = problem
    obj = relu1d.Objective(x, interpolating_labels(x, theta, "fast"))
    assert obj.loss(theta) == 0.0
    lam = np.linalg.eigvalsh(obj.hessian(theta))[-1]
    wtv1 = analysis.weighted_tv1(theta, obj)
    m = (theta.size - 1) // 3
    assert lam >= 1 + 2 * wtv1 - 8 * ref.tolerance(x.size, m) * (lam + 1 + 2 * wtv1), (lam, wtv1)


def test_interpolation_oracle_is_nearly_tight():
    """The oracle has teeth: for one gentle bend, lambda_max lies between 1 + 2 wTV(1) and 1 + 3 wTV(1),
    so an off-by-a-factor weighted TV(1) (or g) would fail it."""
    x = np.linspace(-1, 1, 21)
    theta = relu1d.pack([1.0], [0.0], [0.3], 0.0)
    obj = relu1d.Objective(x, interpolating_labels(x, theta, "fast"))
    lam = np.linalg.eigvalsh(obj.hessian(theta))[-1]
    wtv1 = analysis.weighted_tv1(theta, obj)
    assert 1 + 2 * wtv1 <= lam < 1 + 3 * wtv1, (lam, wtv1)


# ------------------------------------------------------------------------------------------------
# Along a run: the history columns wtv1 and effective_knots


def test_recorded_wtv1_equals_weighted_tv1_at_those_steps():
    x, y = relu1d.make_data(24, sigma=0.3, target="hat", rng=0)
    obj = relu1d.Objective(x, y)
    theta0 = relu1d.init_params(30, rng=1)
    run = relu1d.train(obj, theta0, lr=0.1, steps=900, record_every=50, sharpness_every=300, progress=False)
    h = run.history
    measured = np.isfinite(h["sharpness"])
    np.testing.assert_array_equal(h["step"][measured], [0, 300, 600])
    assert np.isnan(h["wtv1"][~measured]).all() and (h["effective_knots"][~measured] == -1).all()
    for row in np.flatnonzero(measured):
        step = int(h["step"][row])
        theta = relu1d.train(obj, theta0, lr=0.1, steps=step, sharpness_every=0, progress=False).theta
        assert h["wtv1"][row] == analysis.weighted_tv1(theta, obj), step
        assert h["effective_knots"][row] == analysis.effective_knots(theta, obj).count, step
    rep = run.report()
    assert rep.history_wtv1["measurements"] == 3 and rep.history_wtv1["last"] == h["wtv1"][measured][-1]


def test_checkpoint_and_resume_keep_the_function_space_columns(tmp_path):
    x, y = relu1d.make_data(24, sigma=0.3, target="hat", rng=0)
    obj = relu1d.Objective(x, y)
    theta0 = relu1d.init_params(30, rng=1)
    kwargs = dict(lr=0.1, record_every=50, sharpness_every=200, progress=False)
    whole = relu1d.train(obj, theta0, steps=1000, **kwargs)
    path = tmp_path / "run.npz"
    relu1d.train(obj, theta0, steps=400, checkpoint=path, **kwargs)
    resumed = relu1d.resume(path, steps=600, progress=False)
    loaded = relu1d.Run.load(path)
    for run in (resumed, loaded):
        for key in ("wtv1", "effective_knots"):
            np.testing.assert_array_equal(run.history[key], whole.history[key], err_msg=key)
    assert np.isfinite(whole.history["wtv1"]).sum() == 5


# ------------------------------------------------------------------------------------------------
# The stability report


def test_report_fields_on_a_trained_run():
    run = trained_run(lr=0.05, steps=4000)
    x_test, y_test = relu1d.make_data(200, sigma=0.3, target="hat", rng=7)
    rep = run.report(f0="hat", x_test=x_test, y_test=y_test)
    obj, theta = run.objective, run.theta
    assert rep.n == 24 and rep.width == 30 and rep.lr == 0.05 and rep.steps == 4000
    assert rep.loss == obj.loss(theta)
    assert rep.train_mse == 2 * rep.loss
    assert rep.sharpness == pytest.approx(relu1d.sharpness(obj, theta).value, rel=1e-8)
    assert rep.edge == 40.0 and rep.ratio == rep.sharpness / 40.0 and rep.stable == (rep.sharpness <= 40)
    assert rep.wtv1 == analysis.weighted_tv1(theta, obj.x)
    x_max = np.abs(obj.x).max()
    assert [b["C"] for b in rep.bounds] == [(1 + x_max) / 2, 1 + x_max]
    root = np.sqrt(2 * rep.loss)
    for b in rep.bounds:
        assert b["sharpness_bound"] == pytest.approx(rep.sharpness / 2 - 0.5 + b["C"] * root)
        assert b["lr_bound"] == pytest.approx(1 / 0.05 - 0.5 + b["C"] * root)
        assert b["sharpness_slack"] == pytest.approx(b["sharpness_bound"] - rep.wtv1)
    # c_needed: the bound with C = c_needed holds with equality (or C = 0 suffices)
    if rep.c_needed > 0:
        assert rep.sharpness / 2 - 0.5 + rep.c_needed * root == pytest.approx(rep.wtv1)
    else:
        assert rep.wtv1 <= rep.sharpness / 2 - 0.5
    assert rep.interpolation_bound == 1 + 2 * rep.wtv1
    assert rep.near_zero_loss is False
    assert rep.effective_knots.count == analysis.effective_knots(theta, obj).count
    grid = np.linspace(obj.x.min(), obj.x.max(), 4001)
    f0 = relu1d.target_function("hat")
    assert rep.mse_f0 == pytest.approx(np.mean((relu1d.predict(theta, grid) - f0(grid)) ** 2))
    a, b = rep.interior_interval
    assert (b - a) == pytest.approx(0.9 * (obj.x.max() - obj.x.min()))
    assert rep.test_mse == pytest.approx(np.mean((relu1d.predict(theta, x_test) - y_test) ** 2))
    assert rep.gap == pytest.approx(rep.test_mse - rep.train_mse)
    text = repr(rep)
    for words in ("n=24", "width=30", "lr=0.05", "sharpness", "weighted TV(1)", "C needed", "effective knots",
                  "MSE vs f0", "gap"):
        assert words in text
    assert "<table>" in rep._repr_html_()
    d = json.loads(json.dumps(rep.to_dict(), allow_nan=False))
    assert d["wtv1"] == rep.wtv1 and d["effective_knots"]["count"] == rep.effective_knots.count
    assert d["stable"] == rep.stable and len(d["bounds"]) == 2


def test_report_at_zero_loss_checks_the_interpolation_bound():
    x = np.linspace(-1, 1, 15)
    theta = relu1d.init_params(10, rng=4)
    obj = relu1d.Objective(x, interpolating_labels(x, theta, "fast"))
    rep = analysis.stability_report(obj, theta, 0.01)
    assert rep.loss == 0.0 and rep.near_zero_loss
    assert rep.interpolation_holds
    assert rep.c_needed in (0.0, np.inf)
    assert json.loads(json.dumps(rep.to_dict(), allow_nan=False))["c_needed"] in (0.0, None)


def test_bad_input_gets_named_errors():
    x, y = relu1d.make_data(10, rng=0)
    obj = relu1d.Objective(x, y)
    theta = relu1d.init_params(5, rng=0)
    with pytest.raises(ValueError, match="x_data"):
        analysis.weighted_tv1(theta, [0.0, np.nan])
    with pytest.raises(ValueError, match="x_data"):
        analysis.g_weight([], [0.0])
    with pytest.raises(ValueError, match="t:"):
        analysis.g_weight(x, [np.inf])
    with pytest.raises(ValueError, match="theta"):
        analysis.weighted_tv1(theta[:-1], x)
    with pytest.raises(ValueError, match="theta"):
        analysis.knots(np.append(theta[:-1], np.nan))
    with pytest.raises(ValueError, match="rel_tol"):
        analysis.effective_knots(theta, x, rel_tol=1.5)
    with pytest.raises(ValueError, match="lr"):
        analysis.stability_report(obj, theta, 0.0)
    with pytest.raises(ValueError, match="lr"):
        analysis.stability_report(obj, theta, -0.1)
    with pytest.raises(ValueError, match="x_test, y_test"):
        analysis.stability_report(obj, theta, 0.1, x_test=x)
    with pytest.raises(ValueError, match="y_test"):
        analysis.stability_report(obj, theta, 0.1, x_test=x, y_test=y[:-1])
    with pytest.raises(ValueError, match="interior"):
        analysis.stability_report(obj, theta, 0.1, interior=1.5)
    with pytest.raises(ValueError, match="target"):
        analysis.stability_report(obj, theta, 0.1, f0="no-such-target")
    with pytest.raises(TypeError, match="objective"):
        analysis.gram(x, theta)
    with pytest.raises(ValueError, match="theta"):
        analysis.gram(obj, theta[:-2])


@pytest.mark.parametrize("theta", [
    np.array([1e200, 0.0, 1e200, 0.0]),                    # v |w| overflows
    np.array([1.0, 1.0, 0.0, 0.0, 1.5e308, 1.5e308, 0.0]),  # two finite jumps at one knot sum to inf
])
def test_overflowing_jumps_get_a_named_error_not_nan(theta):
    x = np.array([-1.0, -0.5, 0.5, 1.0])
    for call in (lambda: analysis.knots(theta), lambda: analysis.tv1(theta),
                 lambda: analysis.weighted_tv1(theta, x), lambda: analysis.effective_knots(theta, x),
                 lambda: analysis.spline(theta, -1.0, 1.0)):
        with pytest.raises(ValueError, match="theta.*overflows"):
            call()


def test_overflowing_weight_g_gets_a_named_error():
    with pytest.raises(ValueError, match="x_data.*overflows"):
        analysis.g_weight([-1e300, 1e300], [0.0])


def test_report_validates_history_and_prints_a_huge_ratio_compactly():
    x, y = relu1d.make_data(10, rng=0)
    obj = relu1d.Objective(x, y)
    theta = relu1d.init_params(5, rng=0)
    with pytest.raises(TypeError, match="history"):
        analysis.stability_report(obj, theta, 0.1, history=5)
    rep = analysis.stability_report(obj, theta, 1e-300)
    line = next(line for line in repr(rep).splitlines() if "2/lr" in line)
    assert len(line) < 200, line


@pytest.mark.parametrize("name", ["merged_knots", "weighted_tv1", "effective_knots", "gram"])
def test_compiled_analysis_checks_theta_with_the_one_rule(name):
    from relu1d import _core

    with pytest.raises(ValueError) as expected:
        _core.theta_width(5)
    args = {"merged_knots": (np.zeros(5),)}.get(name, (np.array([0.0, 1.0]), np.zeros(5)))
    with pytest.raises(ValueError) as got:
        getattr(_core, name)(*args)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("kwargs, name", [
    (dict(x_test=[1e300], y_test=[0.0]), "x_test, y_test"),
    (dict(x_test=[0.0], y_test=[1e200]), "x_test, y_test"),
    (dict(f0=lambda z: 1e200 + 0 * z), "f0"),
])
def test_overflowing_test_error_gets_a_named_error(kwargs, name):
    x, y = relu1d.make_data(10, rng=0)
    with pytest.raises(ValueError, match=f"{name}.*overflows"):
        analysis.stability_report(relu1d.Objective(x, y), relu1d.init_params(5, rng=0), 0.1, **kwargs)


def test_g_of_inputs_near_1e155_is_finite():
    """sqrt(1 + mean^2) must not overflow through mean^2 when g itself is a finite number."""
    x = 1e155 * np.array([1.0, 1.0 + 2.0 ** -40, 1.0 + 2.0 ** -39])
    t = 0.5 * (x[0] + x[1])
    g = analysis.g_weight(x, [t])[0]
    mean_above = 0.5 * (x[1] + x[2])
    g_minus = (1 / 3) ** 2 * (t - x[0]) * x[0]           # sqrt(1 + mean^2) = |mean| to rounding here
    g_plus = (2 / 3) ** 2 * (mean_above - t) * mean_above
    assert np.isfinite(g) and g == pytest.approx(min(g_minus, g_plus), rel=1e-12)
