"""Sharpness (extreme Hessian eigenvalues by Lanczos): accuracy against a dense eigensolver,
residuals, warm starts, the SciPy LinearOperator, lambda_max >= 1 along a run, argument checks."""

from __future__ import annotations

import numpy as np
import pytest

import relu1d

# (data seed, init seed): small problems whose wanted eigenvalues are simple (single-vector Lanczos
# cannot see the multiplicity of a repeated eigenvalue; see test_repeated_eigenvalue_is_not_missed).
CASES = [(1, 11), (2, 12), (3, 13)]


def problem(data_seed, init_seed, kernel="fast", n=30, width=12):
    x, y = relu1d.make_data(n, rng=data_seed)
    return relu1d.Objective(x, y, kernel=kernel), relu1d.init_params(width, rng=init_seed)


def sharp(objective, theta, **kw):
    """relu1d.sharpness with an explicit seeded random start vector.

    The default start (v0=None) currently reads uninitialised memory (see
    test_default_start_does_not_depend_on_heap_contents), so the accuracy tests pass v0.
    """
    if "v0" not in kw:
        kw["v0"] = np.random.default_rng(kw.pop("start_seed", 0)).standard_normal(np.size(theta))
    return relu1d.sharpness(objective, theta, **kw)


def wanted(ev, k, which):
    """The k reference eigenvalues in the order sharpness() reports them."""
    return ev[::-1][:k] if which == "largest" else ev[:k]


@pytest.mark.parametrize("kernel", relu1d.KERNELS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"seed{c[0]}")
@pytest.mark.parametrize("which", ["largest", "smallest"])
@pytest.mark.parametrize("k", [1, 3])
def test_matches_dense_eigvalsh(kernel, case, which, k):
    obj, theta = problem(*case, kernel=kernel)
    H = obj.hessian(theta)
    np.testing.assert_array_equal(H, H.T)
    ev = np.linalg.eigvalsh(H)
    scale = np.max(np.abs(ev))
    ref = wanted(ev, k + 1, which)
    # premise: the wanted eigenvalues are simple, so Lanczos can find them all
    assert np.min(np.abs(np.diff(ref))) > 1e-6 * scale

    res = sharp(obj, theta, k=k, which=which)
    assert res.which == which
    assert res.converged
    assert res.eigenvalues.shape == (k,)
    assert res.eigenvectors.shape == (k, theta.size)
    assert res.residuals.shape == (k,)
    np.testing.assert_allclose(res.eigenvalues, ref[:k], rtol=1e-10, atol=1e-10 * scale, err_msg=repr(res))
    # ordering: largest first / smallest first
    assert (np.diff(res.eigenvalues) <= 0).all() if which == "largest" else (np.diff(res.eigenvalues) >= 0).all()
    # orthonormal eigenvectors with small residuals, as reported and as measured here
    V = res.eigenvectors
    np.testing.assert_allclose(V @ V.T, np.eye(k), atol=1e-10)
    measured = np.linalg.norm(H @ V.T - V.T * res.eigenvalues, axis=0)
    assert (measured <= 1e-9 * scale).all(), measured
    assert (res.residuals >= 0).all()
    assert (res.residuals <= 1e-9 * scale).all(), res.residuals
    np.testing.assert_allclose(res.residuals, measured, atol=1e-12 * scale)
    assert res.products >= res.iterations >= k
    assert res.value == res.eigenvalues[0]
    np.testing.assert_array_equal(res.vector, V[0])


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"seed{c[0]}")
def test_kernels_agree_on_sharpness(case):
    fast, theta = problem(*case, kernel="fast")
    dense = fast.with_kernel("dense")
    a = sharp(fast, theta, k=3)
    b = sharp(dense, theta, k=3)
    np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, rtol=1e-10)
    np.testing.assert_allclose(relu1d.hessian_eigenvalues(fast, theta), relu1d.hessian_eigenvalues(dense, theta),
                               atol=1e-12 * np.max(np.abs(relu1d.hessian_eigenvalues(fast, theta))))


def test_hessian_eigenvalues_is_eigvalsh():
    obj, theta = problem(1, 11)
    ev = relu1d.hessian_eigenvalues(obj, theta)
    np.testing.assert_array_equal(ev, np.linalg.eigvalsh(obj.hessian(theta)))
    assert (np.diff(ev) >= 0).all()


def test_full_spectrum_when_k_is_dimension():
    obj, theta = problem(2, 12, width=4)
    ev = np.linalg.eigvalsh(obj.hessian(theta))
    d = theta.size
    res = sharp(obj, theta, k=d)
    np.testing.assert_allclose(np.sort(res.eigenvalues), ev, atol=1e-10 * np.max(np.abs(ev)))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"seed{c[0]}")
def test_warm_start_uses_fewer_products(case):
    obj, theta = problem(*case)
    first = sharp(obj, theta)
    nearby = theta - 0.05 * obj.grad(theta)  # one GD step away, as along a run
    cold = sharp(obj, nearby)
    warm = relu1d.sharpness(obj, nearby, v0=first.vector)
    assert cold.converged and warm.converged
    assert warm.value == pytest.approx(cold.value, rel=1e-10)
    ref = np.linalg.eigvalsh(obj.hessian(nearby))[-1]
    assert warm.value == pytest.approx(ref, rel=1e-10)
    assert warm.products < cold.products, (warm.products, cold.products)


def test_start_from_exact_eigenvector_is_cheap():
    obj, theta = problem(1, 11)
    exact = sharp(obj, theta)
    again = relu1d.sharpness(obj, theta, v0=exact.vector)
    assert again.value == pytest.approx(exact.value, rel=1e-12)
    assert again.products <= 4 < exact.products


def test_v0_does_not_need_unit_norm():
    obj, theta = problem(2, 12)
    ref = sharp(obj, theta)
    scaled = relu1d.sharpness(obj, theta, v0=1e3 * ref.vector + 1e-3)
    assert scaled.value == pytest.approx(ref.value, rel=1e-10)
    assert np.linalg.norm(scaled.vector) == pytest.approx(1.0, rel=1e-12)


def test_start_seed_changes_only_rounding():
    obj, theta = problem(3, 13)
    a = sharp(obj, theta, k=2, start_seed=5)
    b = sharp(obj, theta, k=2, start_seed=5)
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)
    np.testing.assert_array_equal(a.eigenvectors, b.eigenvectors)
    assert a.products == b.products
    c = sharp(obj, theta, k=2, start_seed=6)
    np.testing.assert_allclose(c.eigenvalues, a.eigenvalues, rtol=1e-10)


def test_default_start_does_not_depend_on_heap_contents():
    obj, theta = problem(2, 12)
    exact = np.linalg.eigvalsh(obj.hessian(theta))[0]
    by_seed = {0: set(), 1: set()}
    keep = []
    for i, fill in enumerate([0.0, 1.0, 1e-3, -2.0, 0.5, 3.0, -1e-3, 2.0] * 3):
        junk = [np.full(int(n), fill) for n in range(1, 64)] * 20
        keep.append(junk[::7])
        del junk  # freed heap blocks now hold `fill`
        seed = i % 2
        res = relu1d.sharpness(obj, theta, which="smallest", seed=seed)
        by_seed[seed].add((res.value, res.products, res.eigenvectors.tobytes()))
        assert res.value == pytest.approx(exact, rel=1e-10), res
    # a seeded random start: the same seed gives the same result, another seed another start
    assert len(by_seed[0]) == 1 and len(by_seed[1]) == 1, "the same call gave different results"
    assert by_seed[0] != by_seed[1], "the seed is ignored"


def test_max_iter_limit_reports_not_converged():
    obj, theta = problem(1, 11)
    res = sharp(obj, theta, max_iter=2)
    assert not res.converged
    assert np.isfinite(res.value)
    # a Ritz value never exceeds the true lambda_max
    assert res.value <= np.linalg.eigvalsh(obj.hessian(theta))[-1] + 1e-12


def test_repr():
    obj, theta = problem(1, 11)
    text = repr(sharp(obj, theta, k=2))
    assert text.startswith("EigenResult(largest:")
    assert "products=" in text and "converged=True" in text


def test_repeated_eigenvalue_is_not_missed():
    x, y = relu1d.make_data(30, rng=0)
    obj = relu1d.Objective(x, y)
    theta = relu1d.init_params(12, rng=10)
    ev = np.linalg.eigvalsh(obj.hessian(theta))
    assert abs(ev[0] - ev[1]) < 1e-12 * abs(ev[0])  # a double smallest eigenvalue
    res = sharp(obj, theta, k=3, which="smallest")
    assert not res.converged or np.allclose(res.eigenvalues, ev[:3], rtol=1e-8)


# ---------------------------------------------------------------------------------------------
# SciPy LinearOperator

def test_hessian_operator_matches_dense_and_eigsh():
    sla = pytest.importorskip("scipy.sparse.linalg")
    obj, theta = problem(1, 11)
    H = obj.hessian(theta)
    op = obj.hessian_operator(theta)
    d = theta.size
    assert op.shape == (d, d)
    assert op.dtype == np.float64
    rng = np.random.default_rng(0)
    u = rng.standard_normal(d)
    np.testing.assert_allclose(op @ u, H @ u, rtol=1e-12, atol=1e-12 * np.abs(H).max() * np.abs(u).max())
    np.testing.assert_allclose(op.rmatvec(u), H @ u, rtol=1e-12, atol=1e-12 * np.abs(H).max() * np.abs(u).max())
    U = rng.standard_normal((d, 3))
    np.testing.assert_allclose(op @ U, H @ U, rtol=1e-12, atol=1e-11 * np.abs(H).max() * np.abs(U).max())
    np.testing.assert_allclose(op @ u.reshape(d, 1), (H @ u).reshape(d, 1), rtol=1e-12, atol=1e-11)
    vals = sla.eigsh(op, k=3, which="LA", return_eigenvectors=False, v0=np.ones(d))
    ev = np.linalg.eigvalsh(H)
    np.testing.assert_allclose(np.sort(vals)[::-1], ev[::-1][:3], rtol=1e-10)
    ours = sharp(obj, theta, k=3)
    np.testing.assert_allclose(ours.eigenvalues, np.sort(vals)[::-1], rtol=1e-10)


def test_hessian_operator_freezes_theta():
    pytest.importorskip("scipy.sparse.linalg")
    obj, theta = problem(2, 12)
    th = theta.copy()
    op = obj.hessian_operator(th)
    u = np.arange(th.size, dtype=np.float64)
    before = op @ u
    th[:] = 0.0  # mutating the caller's array must not change the operator
    np.testing.assert_array_equal(op @ u, before)


# ---------------------------------------------------------------------------------------------
# lambda_max(H) >= 1 everywhere, since H[c, c] = 1 (ALGORITHMS.md §2)

@pytest.mark.parametrize("kernel", relu1d.KERNELS)
def test_sharpness_at_least_one_along_run(kernel):
    obj, th0 = problem(1, 11, kernel=kernel)
    run = relu1d.train(obj, th0, lr=0.1, steps=2000, record_every=20, sharpness_every=20)
    s = run.history["sharpness"]
    measured = np.isfinite(s)
    assert measured.sum() == 101  # steps 0, 20, ..., 2000 (the final step)
    assert (s[measured] >= 1 - 1e-12).all(), s[measured].min()
    resid = run.history["sharpness_residual"][measured]
    assert (resid <= 1e-8 * s[measured]).all(), resid.max()
    assert (run.history["sharpness_products"][measured] > 0).all()
    # warm-started tracking: a few products per measurement after the first
    assert np.median(run.history["sharpness_products"][measured][1:]) < run.history["sharpness_products"][0]
    # the tracked values are the true lambda_max at a few recorded steps
    steps = run.history["step"][measured]
    for j in (0, 37, 99):
        theta_j = relu1d.train(obj, th0, lr=0.1, steps=int(steps[j]), sharpness_every=0).theta
        ref = np.linalg.eigvalsh(obj.hessian(theta_j))[-1]
        assert s[measured][j] == pytest.approx(ref, rel=1e-9)
    assert run.eigvec is not None
    assert np.linalg.norm(run.eigvec) == pytest.approx(1.0, rel=1e-12)
    assert run.sharpness == s[measured][-1]


def test_sharpness_at_least_one_random_points():
    rng = np.random.default_rng(7)
    x, y = relu1d.make_data(15, rng=1)
    obj = relu1d.Objective(x, y)
    for _ in range(10):
        theta = relu1d.init_params(int(rng.integers(1, 8)), rng=rng, scale=float(rng.uniform(0, 3)))
        assert sharp(obj, theta).value >= 1 - 1e-12
        assert obj.hessian(theta)[-1, -1] == 1.0


# ---------------------------------------------------------------------------------------------
# Argument checking

@pytest.mark.parametrize("kw, exc, name", [
    (dict(which="middle"), ValueError, "which"),
    (dict(which="LA"), ValueError, "which"),
    (dict(k=0), ValueError, "k"),
    (dict(k=38), ValueError, "k"),
    (dict(k=1.0), TypeError, "k"),
    (dict(v0=np.ones(5)), ValueError, "v0"),
    (dict(v0=np.zeros(37)), ValueError, "v0"),
    (dict(v0=np.full(37, np.nan)), ValueError, "v0"),
    (dict(tol=0.0), ValueError, "tol"),
    (dict(tol=float("nan")), ValueError, "tol"),
    (dict(max_iter=0), ValueError, "max_iter"),
    (dict(seed=-1), ValueError, "seed"),
])
def test_sharpness_bad_arguments(kw, exc, name):
    obj, theta = problem(1, 11)  # len(theta) = 37
    with pytest.raises(exc, match=name):
        relu1d.sharpness(obj, theta, **kw)


def test_sharpness_bad_theta_and_objective():
    obj, theta = problem(1, 11)
    with pytest.raises(ValueError, match="theta"):
        relu1d.sharpness(obj, theta[:-1])
    with pytest.raises(ValueError, match="theta"):
        relu1d.sharpness(obj, np.where(np.arange(theta.size) == 3, np.inf, theta))
    with pytest.raises(TypeError, match="objective"):
        relu1d.sharpness("not an objective", theta)
    with pytest.raises(TypeError, match="objective"):
        relu1d.hessian_eigenvalues(None, theta)


def _overflowing_network():
    """Data with an outlier at -1e300 and neurons with |w| = 1e150: finite loss, Hessian products
    that overflow float64."""
    rng = np.random.default_rng(0)
    m = 257
    xo = np.round(rng.uniform(-1, 1, 7), 1)
    x = np.concatenate([[-1e300], xo])
    y = np.concatenate([[0.0], np.abs(xo)])
    w = rng.uniform(0.2, 2.0, m)
    b = -w * rng.uniform(-0.9, 0.9, m)
    v = 0.3 * rng.standard_normal(m)
    w[1::3], b[1::3], v[1::3] = 1e8, -1e8 * xo.max() + 1.0, 1e-3
    w[2::5], b[2::5], v[2::5] = 1e150, -1e150 * xo.max() + 1e140, 1e-160
    w[0::9] = 0.0
    return x, y, relu1d.pack(w, b, v, 0.1)


@pytest.mark.parametrize("k", [1, 3])
def test_overflowing_hessian_raises(k):
    # Lanczos stops at its first non-finite product (the C++ self-test counts one product) rather
    # than iterating to max_iter on NaNs; the caller gets the overflow error, and a run that
    # diverges there records NaN, not a number
    x, y, theta = _overflowing_network()
    obj = relu1d.Objective(x, y)
    with np.errstate(all="ignore"):
        run = relu1d.train(obj, theta, lr=0.01, steps=30, record_every=3, sharpness_every=10, max_loss=1e300,
                           progress=False)
    assert run.status == "diverged"
    assert np.isnan(run.history["sharpness"][-1])
    with pytest.raises(ValueError, match="^theta: the Hessian overflows"):
        relu1d.sharpness(obj, run.theta, k=k, max_iter=300)
