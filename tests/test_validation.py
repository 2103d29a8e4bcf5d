"""Bad input is rejected with ValueError or TypeError naming the argument; convertible input is
converted (lists, float32, non-contiguous views) and gives exactly the float64 result."""

from __future__ import annotations

import numpy as np
import pytest

import relu1d

X = np.array([0.5, -1.0, 2.0, 0.0, 1.5])
Y = np.array([1.0, 0.0, -1.0, 2.0, 0.5])
THETA = relu1d.pack([1.0, -0.5], [0.25, 1.0], [2.0, -1.0], 0.5)  # width 2, length 7


@pytest.fixture(params=relu1d.KERNELS)
def obj(request):
    return relu1d.Objective(X, Y, kernel=request.param)


# ------------------------------------------------------------------------------------------------
# Objective construction


@pytest.mark.parametrize(
    ("x", "y", "error", "match"),
    [
        (X, Y[:4], ValueError, r"^y: expected the same length as x \(5\), got 4"),
        (X[:3], Y, ValueError, r"^y: expected the same length as x \(3\), got 5"),
        ([], [], ValueError, r"^x: must not be empty"),
        (np.empty(0), np.empty(0), ValueError, r"^x: must not be empty"),
        (X.reshape(1, 5), Y, ValueError, r"^x: expected a 1-D array"),
        (X, Y.reshape(5, 1), ValueError, r"^y: expected a 1-D array"),
        ([0.0, np.nan], [1.0, 2.0], ValueError, r"^x: contains NaN or inf"),
        ([0.0, np.inf], [1.0, 2.0], ValueError, r"^x: contains NaN or inf"),
        ([0.0, 1.0], [-np.inf, 2.0], ValueError, r"^y: contains NaN or inf"),
        ([0.0, 1.0], [1.0, np.nan], ValueError, r"^y: contains NaN or inf"),
        (["a", "b"], [1.0, 2.0], TypeError, r"^x: expected numbers"),
        ("ab", [1.0, 2.0], TypeError, r"^x: expected an array of numbers"),
        ([0.0, 1.0], [object(), object()], TypeError, r"^y: expected numbers"),
        ([0.0, 1.0], [1.0, 2.0j], TypeError, r"^y: complex values are not supported"),
        ([[0.0, 1.0], [2.0]], [1.0, 2.0], TypeError, r"^x: cannot convert"),
    ],
)
def test_bad_data(x, y, error, match):
    with pytest.raises(error, match=match):
        relu1d.Objective(x, y)


@pytest.mark.parametrize("scalar", ["x", "y"])
def test_scalar_data_is_rejected(scalar):
    x, y = (1.0, [2.0]) if scalar == "x" else ([1.0], 2.0)
    with pytest.raises(ValueError, match=rf"^{scalar}: expected a 1-D array"):
        relu1d.Objective(x, y)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kernel": "fastest"}, ValueError, r"^kernel: expected one of \('fast', 'dense'\), got 'fastest'"),
        ({"kernel": None}, ValueError, r"^kernel: "),
        ({"threads": 0}, ValueError, r"^threads: must be >= 1, got 0"),
        ({"threads": -1}, ValueError, r"^threads: must be >= 1, got -1"),
        ({"threads": "a"}, TypeError, r"^threads: expected an integer, got str"),
        ({"threads": 2.0}, TypeError, r"^threads: expected an integer, got float"),
        ({"threads": True}, TypeError, r"^threads: expected an integer, got bool"),
    ],
)
def test_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        relu1d.Objective(X, Y, **kwargs)


# ------------------------------------------------------------------------------------------------
# theta and u


@pytest.mark.parametrize(
    ("theta", "error", "match"),
    [
        (np.zeros(6), ValueError, r"^theta: length must be 3\*m\+1 for some width m >= 1, got 6"),
        (np.zeros(2), ValueError, r"^theta: length must be 3\*m\+1 for some width m >= 1, got 2"),
        (np.zeros(1), ValueError, r"^theta: length must be 3\*m\+1 for some width m >= 1, got 1"),
        (np.zeros(0), ValueError, r"^theta: must not be empty"),
        (np.zeros((1, 7)), ValueError, r"^theta: expected a 1-D array"),
        (np.where(np.arange(7) == 3, np.nan, THETA), ValueError, r"^theta: contains NaN or inf \(first at index 3\)"),
        (np.where(np.arange(7) == 6, -np.inf, THETA), ValueError, r"^theta: contains NaN or inf \(first at index 6\)"),
        (["a"] * 7, TypeError, r"^theta: expected numbers"),
        ("abcdefg", TypeError, r"^theta: expected an array of numbers"),
        ([object()] * 7, TypeError, r"^theta: expected numbers"),
    ],
)
@pytest.mark.parametrize("method", ["loss", "grad", "loss_and_grad", "residuals", "hessian", "knots_inside", "hvp"])
def test_bad_theta(obj, method, theta, error, match):
    args = (theta, np.zeros(7)) if method == "hvp" else (theta,)
    with pytest.raises(error, match=match):
        getattr(obj, method)(*args)


@pytest.mark.parametrize(
    ("u", "error", "match"),
    [
        (np.zeros(6), ValueError, r"^u: expected length 7, got 6"),
        (np.zeros(10), ValueError, r"^u: expected length 7, got 10"),
        (np.zeros((7, 1)), ValueError, r"^u: expected a 1-D array"),
        (np.where(np.arange(7) == 2, np.nan, 1.0), ValueError, r"^u: contains NaN or inf"),
        (np.where(np.arange(7) == 0, np.inf, 1.0), ValueError, r"^u: contains NaN or inf"),
        (["x"] * 7, TypeError, r"^u: expected numbers"),
        ("abcdefg", TypeError, r"^u: expected an array of numbers"),
    ],
)
def test_bad_u(obj, u, error, match):
    with pytest.raises(error, match=match):
        obj.hvp(THETA, u)


def test_predict_rejects_nonfinite_x():
    with pytest.raises(ValueError, match=r"^x: contains NaN or inf"):
        relu1d.predict(THETA, [0.0, np.nan])
    with pytest.raises(ValueError, match=r"^theta: length must be 3\*m\+1"):
        relu1d.predict(np.zeros(5), [0.0])


@pytest.mark.parametrize("x", [["a", "b"], [object()], [1j]])
def test_predict_bad_x_names_the_argument(x):
    with pytest.raises((TypeError, ValueError), match=r"^x: "):
        relu1d.predict(THETA, x)


# ------------------------------------------------------------------------------------------------
# Conversions


def test_lists_float32_and_views_are_converted(obj):
    kernel = obj.kernel
    # values exactly representable in float32, so the conversion is exact
    x32 = X.astype(np.float32)
    y32 = Y.astype(np.float32)
    assert np.array_equal(x32.astype(np.float64), X) and np.array_equal(y32.astype(np.float64), Y)
    big = np.zeros(10)
    big[::2] = X
    x_view = big[::2]
    assert not x_view.flags["C_CONTIGUOUS"]
    variants = [
        relu1d.Objective(X.tolist(), Y.tolist(), kernel=kernel),
        relu1d.Objective(x32, y32, kernel=kernel),
        relu1d.Objective(x_view, Y[::-1][::-1], kernel=kernel),
        relu1d.Objective(X.astype(np.int64) if np.all(X == np.round(X)) else X, Y, kernel=kernel),
    ]
    theta_big = np.zeros(14)
    theta_big[::2] = THETA
    u = np.arange(7, dtype=np.float64) / 4
    thetas = [THETA.tolist(), THETA.astype(np.float32), theta_big[::2], tuple(THETA)]
    us = [u.tolist(), u.astype(np.float32), np.repeat(u, 2)[::2], tuple(u)]
    loss, g, hu, H = obj.loss(THETA), obj.grad(THETA), obj.hvp(THETA, u), obj.hessian(THETA)
    for o in variants:
        assert o.loss(THETA) == loss
    for t, uu in zip(thetas, us):
        assert np.array_equal(np.asarray(t, dtype=np.float64), THETA)
        assert obj.loss(t) == loss
        np.testing.assert_array_equal(obj.grad(t), g)
        np.testing.assert_array_equal(obj.hvp(t, uu), hu)
        np.testing.assert_array_equal(obj.hessian(t), H)
    np.testing.assert_array_equal(relu1d.predict(THETA.tolist(), X.tolist()), relu1d.predict(THETA, X))
    np.testing.assert_array_equal(relu1d.predict(THETA.astype(np.float32), x32), relu1d.predict(THETA, X))


def test_integer_data_is_converted():
    xi, yi = np.array([3, -1, 0, 2]), np.array([1, 0, 1, 0])
    a = relu1d.Objective(xi, yi)
    b = relu1d.Objective(xi.astype(float), yi.astype(float))
    theta = relu1d.init_params(3, rng=1)
    assert a.loss(theta) == b.loss(theta)
    assert a.x_sorted.dtype == np.float64


def test_inputs_are_copied():
    """The objective keeps its own copy of the data: later writes by the caller change nothing."""
    x, y = X.copy(), Y.copy()
    o = relu1d.Objective(x, y)
    before = o.loss(THETA)
    x[:] = 0.0
    y[:] = 100.0
    assert o.loss(THETA) == before


def test_numeric_strings_are_rejected():
    with pytest.raises(TypeError, match=r"^x: expected numbers"):
        relu1d.Objective(["1.0", "2"], [1.0, 2.0])


@pytest.mark.parametrize("kernel", relu1d.KERNELS)
def test_overflow_is_an_error_not_a_silent_nan(kernel):
    obj = relu1d.Objective([1e200, 2e200], [0.0, 1.0], kernel=kernel)
    theta = relu1d.pack([1e200], [0.0], [1.0], 0.0)
    for call in (obj.loss, obj.grad, obj.loss_and_grad, obj.hessian, obj.residuals,
                 lambda t: obj.hvp(t, np.ones(t.size))):
        with pytest.raises(ValueError, match=r"^theta: the .* overflows float64"):
            call(theta)


# ------------------------------------------------------------------------------------------------
# Booleans and masked arrays, integer and real arguments, the int64 range


@pytest.mark.parametrize("arg", ["x", "y", "theta"])
def test_boolean_arrays_are_rejected(arg):
    x, y, theta = X, Y, THETA
    bools = {"x": np.array([True, False, True, False, True]), "y": np.array([True, False, True, False, True]),
             "theta": np.ones(7, dtype=bool)}[arg]
    with pytest.raises(TypeError, match=f"^{arg}: expected numbers, got booleans"):
        if arg == "theta":
            relu1d.Objective(x, y).loss(bools)
        else:
            relu1d.Objective(bools if arg == "x" else x, bools if arg == "y" else y)


def test_masked_arrays_with_masked_entries_are_rejected():
    xm = np.ma.masked_array(X, mask=[0, 1, 0, 0, 0])
    with pytest.raises(ValueError, match="^x: has masked entries"):
        relu1d.Objective(xm, Y)
    # nothing masked: the data are used as they are
    obj = relu1d.Objective(np.ma.masked_array(X), Y)
    assert obj.loss(THETA) == relu1d.Objective(X, Y).loss(THETA)


@pytest.mark.parametrize(("lr", "error", "match"), [
    ([(0, 0.1), (2.7, 0.05)], TypeError, "piece starts must be integer steps, got 2.7"),
    ({0: 0.1, 0.5: 0.05}, TypeError, "piece starts must be integer steps, got 0.5"),
    ({0: 0.1, "10": 0.05}, TypeError, "piece starts must be integer steps"),
    ([(0, "0.1")], TypeError, "step sizes must be real numbers"),
    ("0.1", TypeError, "lr: expected"),
    ([(0, True)], TypeError, "step sizes must be real numbers"),
    ([(0, 0.1), (2**64, 0.05)], ValueError, "piece starts must be steps in"),
    (lambda s: "0.1", TypeError, "the callable returned '0.1' at step 0"),
    (lambda s: None, TypeError, "the callable returned None at step 0"),
    (lambda s: 0.1 if s < 3 else -1.0, ValueError, "the callable returned -1.0 at step 3"),
])
def test_step_size_schedules(lr, error, match):
    obj = relu1d.Objective(X, Y)
    with pytest.raises(error, match="^lr: .*" + match.replace("(", r"\(").replace(".", r"\.")
                       if not match.startswith("lr") else "^" + match):
        relu1d.train(obj, THETA, lr=lr, steps=10, sharpness_every=0)


@pytest.mark.parametrize(("kwargs", "name"), [
    (dict(steps=10**30), "steps"),
    (dict(steps=10, record_every=2**63), "record_every"),
    (dict(steps=10, sharpness_every=2**64), "sharpness_every"),
    (dict(steps=10, sharpness_max_iter=2**64), "sharpness_max_iter"),
    (dict(steps=10, checkpoint_every=2**64), "checkpoint_every"),
    (dict(steps=10, threads=2**40), "threads"),
])
def test_integers_beyond_int64_name_the_argument(kwargs, name):
    obj = relu1d.Objective(X, Y)
    with pytest.raises(ValueError, match=f"^{name}: must be <="
                       if name != "threads" else "^threads: .* far above"):
        relu1d.train(obj, THETA, lr=0.1, **kwargs)


def test_huge_record_interval_keeps_the_default_sharpness_interval_in_range():
    run = relu1d.train(relu1d.Objective(X, Y), THETA, lr=0.1, steps=10, record_every=2**62)
    assert run.config["sharpness_every"] == 2**63 - 1
    assert list(run.history["step"]) == [0, 10]


def test_sharpness_max_iter_beyond_int64():
    with pytest.raises(ValueError, match="^max_iter: must be <="):
        relu1d.sharpness(relu1d.Objective(X, Y), THETA, max_iter=2**64)


def test_resume_steps_beyond_int64(tmp_path):
    path = tmp_path / "r.npz"
    relu1d.train(relu1d.Objective(X, Y), THETA, lr=0.1, steps=10, checkpoint=path)
    with pytest.raises(ValueError, match="^steps: must be <="):
        relu1d.resume(path, steps=2**63 - 5)


# ------------------------------------------------------------------------------------------------
# load_data


@pytest.mark.parametrize(("content", "match"), [
    ("x,y\n", "has no data rows"),
    ("", "has no data rows"),
    ("# only a comment\n\n", "has no data rows"),
    ("1;2\n3;4\n", r"line 1: expected two columns x,y, found one \(separated by ';'"),
    ("1\t2\n3\t4\n", r"line 1: expected two columns x,y, found one \(separated by '\\t'"),
    ("1,2,3\n4,5,6\n", "line 1: expected two columns x,y, found 3"),
    ("x,y\n1,2\n3,4,5\n", "line 3: expected two columns x,y, found 3"),
    ("x,y\n1,2\n3,\n", "line 3: not two numbers"),
    ("x,y\n1,2\nthree,4\n", "line 3: not two numbers"),
    ("x,y\n1,2\n3,nan\n", r"line 3: y is not a finite number: '3,nan'$"),
    ("1,2\n-inf,4\n", "line 2: x is not a finite number"),
    ("1e400,2\n", r"line 1: x is not a finite number: '1e400,2' \(beyond the float64 range"),
])
def test_load_data_bad_csv(tmp_path, content, match):
    path = tmp_path / "d.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match="^data: .*" + match):
        relu1d.load_data(path)


def test_load_data_csv_with_header_comments_and_blank_lines(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("# measured\nx, y\n1.5,2\n\n-3, 4e-1  # last\n")
    x, y = relu1d.load_data(path)
    np.testing.assert_array_equal(x, [1.5, -3.0])
    np.testing.assert_array_equal(y, [2.0, 0.4])


def test_load_data_npz_with_bad_values_names_the_file(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=[0.0, 1.0], y=[1.0, np.nan])
    with pytest.raises(ValueError, match=r"^data: .*d\.npz: y: contains NaN or inf"):
        relu1d.load_data(path)
    np.savez(path, x=[0.0, 1.0], y=[1.0])
    with pytest.raises(ValueError, match=r"^data: .*d\.npz: y: expected length 2, got 1"):
        relu1d.load_data(path)


@pytest.mark.parametrize("kind", ["directory", "npy", "binary"])
def test_load_data_not_a_data_file(tmp_path, kind):
    if kind == "directory":
        path = tmp_path
        match = "is a directory"
    elif kind == "npy":
        path = tmp_path / "a.npy"
        np.save(path, np.zeros(3))
        match = "single .npy array"
    else:
        path = tmp_path / "a.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
        match = "neither a text CSV file nor an npz archive"
    with pytest.raises(ValueError, match="^data: .*" + match):
        relu1d.load_data(path)


@pytest.mark.parametrize("rng", [-1, 2**200 * -1])
def test_negative_seed_names_rng(rng):
    with pytest.raises(ValueError, match=r"^rng: an integer seed must be >= 0, got -"):
        relu1d.make_data(10, rng=rng)
    with pytest.raises(ValueError, match=r"^rng: an integer seed must be >= 0, got -"):
        relu1d.init_params(3, rng=rng)


@pytest.mark.parametrize("n", [0, 1, 7, 31, 32, 33, 1000])
def test_all_finite_agrees_with_numpy(n):
    from relu1d import _core
    from relu1d._validate import all_finite

    rng = np.random.default_rng(n)
    base = rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n)
    specials = [np.inf, -np.inf, np.nan, -np.nan, np.float64("nan") * 0, 5e-324, -0.0, np.finfo(float).max,
                -np.finfo(float).max, np.finfo(float).tiny]
    cases = [base]
    for k, value in enumerate(specials):
        if n:
            a = base.copy()
            a[k % n] = value
            a[-1 - (k % n)] = value
            cases.append(a)
    for a in cases:
        want = bool(np.isfinite(a).all())
        assert _core.all_finite(a) is want
        assert all_finite(a) is want
        assert all_finite(a[::2]) is bool(np.isfinite(a[::2]).all())  # (a strided view: numpy's check)
        with np.errstate(over="ignore"):
            single = a.astype(np.float32)  # (huge values become inf: still numpy's check)
        assert all_finite(single) is bool(np.isfinite(single).all())
