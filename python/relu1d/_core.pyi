"""
relu1d compiled core: exact kernels, Lanczos and the GD loop (private; use relu1d)
"""
from __future__ import annotations
import numpy
import numpy.typing
import typing
__all__: list[str] = ['EFFECTIVE_KNOT_REL_TOL', 'KERNELS', 'LanczosOptions', 'Objective', 'STOP_REASONS', 'TrainOptions', 'Trainer', 'all_finite', 'build_info', 'default_threads', 'effective_knots', 'function_space_track', 'g_weight', 'gram', 'history_columns', 'merged_knots', 'parallel_grain', 'scatter_block_min', 'set_parallel_grain', 'set_scatter_block_min', 'set_simd_path', 'set_sweep_block_points', 'simd_path', 'simd_path_names', 'simd_paths_available', 'sweep_block_points', 'theta_width', 'weighted_tv1']
class LanczosOptions:
    """
    Options of the Lanczos eigensolver.
    """
    which: str
    def __init__(self, *, k: typing.SupportsInt | typing.SupportsIndex = 1, which: str = 'largest', tol: typing.SupportsFloat | typing.SupportsIndex = 1e-10, max_iter: typing.SupportsInt | typing.SupportsIndex = 300, seed: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
        ...
    @property
    def k(self) -> int:
        ...
    @k.setter
    def k(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def max_iter(self) -> int:
        ...
    @max_iter.setter
    def max_iter(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def seed(self) -> int:
        ...
    @seed.setter
    def seed(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def tol(self) -> float:
        ...
    @tol.setter
    def tol(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
class TrainOptions:
    """
    The unchanging options of a GD run (given when a Trainer is built).
    """
    def __init__(self, *, clip: typing.SupportsFloat | typing.SupportsIndex = 0.0, record_every: typing.SupportsInt | typing.SupportsIndex = 1, sharpness_every: typing.SupportsInt | typing.SupportsIndex = 0, grad_tol: typing.SupportsFloat | typing.SupportsIndex = 0.0, loss_tol: typing.SupportsFloat | typing.SupportsIndex = 0.0, max_loss: typing.SupportsFloat | typing.SupportsIndex = 0.0, sharpness_tol: typing.SupportsFloat | typing.SupportsIndex = 1e-10, sharpness_max_iter: typing.SupportsInt | typing.SupportsIndex = 300) -> None:
        ...
    @property
    def clip(self) -> float:
        ...
    @property
    def grad_tol(self) -> float:
        ...
    @property
    def lanczos(self) -> LanczosOptions:
        ...
    @property
    def loss_tol(self) -> float:
        ...
    @property
    def max_loss(self) -> float:
        ...
    @property
    def record_every(self) -> int:
        ...
    @property
    def sharpness_every(self) -> int:
        ...
class Objective:
    def __init__(self, x_sorted: typing.Any, y_sorted: typing.Any, kernel: str = 'fast', threads: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
        ...
    def eigenpairs(self, theta: typing.Any, options: LanczosOptions, v0: typing.Any = None) -> dict:
        """
        Extreme eigenpairs of the Hessian at theta by Lanczos (relu1d.sharpness).
        """
    def hessian(self, theta: typing.Any, check_finite: bool = True) -> numpy.typing.NDArray[numpy.float64]:
        """
        The Hessian; ValueError where float64 overflows, unless check_finite is false (the raw entries).
        """
    def hvp(self, theta: typing.Any, u: typing.Any) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def knots_inside(self, theta: typing.Any) -> int:
        ...
    def loss(self, theta: typing.Any) -> float:
        ...
    def loss_and_grad(self, theta: typing.Any) -> tuple[float, numpy.typing.NDArray[numpy.float64]]:
        ...
    def residuals(self, theta: typing.Any) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def with_kernel(self, kernel: str, threads: typing.SupportsInt | typing.SupportsIndex) -> Objective:
        """
        The same sorted data (shared, not copied) with another kernel.
        """
    @property
    def kernel(self) -> str:
        ...
    @property
    def n(self) -> int:
        ...
    @property
    def threads(self) -> int:
        ...
class Trainer:
    """
    The GD loop; state = (theta, step, last eigenvector), options fixed.
    """
    def __init__(self, objective: Objective, theta: typing.Any, step: typing.SupportsInt | typing.SupportsIndex, eigvec: typing.Any, options: TrainOptions) -> None:
        ...
    def grad_norm(self) -> float:
        """
        ||grad L(theta)|| at the current theta, without overflow in the squares.
        """
    def loss(self) -> float:
        """
        L(theta) at the current theta (no new forward pass).
        """
    def record(self, lr: typing.SupportsFloat | typing.SupportsIndex, measure: bool, elapsed: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> dict:
        """
        The row of the current step without stepping (the row run() records there), with the sharpness when measure; eigvec is left as it is.
        """
    def run(self, max_steps: typing.SupportsInt | typing.SupportsIndex, lr_starts: typing.Any, lr_values: typing.Any, time_budget: typing.SupportsFloat | typing.SupportsIndex = 0.0, elapsed: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> tuple[str, dict]:
        """
        Run at most max_steps steps: (stop reason, the recorded rows as name -> array).
        """
    @property
    def eigvec(self) -> typing.Any:
        ...
    @property
    def last_grad_norm(self) -> float:
        ...
    @property
    def last_loss(self) -> float:
        ...
    @property
    def options(self) -> TrainOptions:
        ...
    @property
    def sharpness_products(self) -> int:
        ...
    @property
    def sharpness_seconds(self) -> float:
        ...
    @property
    def step(self) -> int:
        ...
    @property
    def theta(self) -> numpy.typing.NDArray[numpy.float64]:
        ...
def all_finite(a: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]) -> bool:
    """
    Whether every entry of a C-contiguous float64 array is finite (one vectorised pass, no temporary array: the check of every array argument).
    """
def build_info() -> dict:
    """
    How the compiled core was built: build ('native' or 'portable'), compiler, flags, baseline_isa.
    """
def default_threads() -> int:
    """
    The most threads that threads=None allows (the CPUs available); each loop uses one per parallel_grain() neurons at most.
    """
def effective_knots(x_sorted: typing.Any, theta: typing.Any, rel_tol: typing.SupportsFloat | typing.SupportsIndex = 0.01) -> dict:
    """
    Knots strictly inside the data range carrying at least rel_tol of its TV(1).
    """
def function_space_track(x_sorted: typing.Any, thetas: typing.Any, rel_tol: typing.SupportsFloat | typing.SupportsIndex = 0.01) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.int64]]:
    """
    The along-a-run computation (warm-started sort, shared result) over the rows of thetas.
    """
def g_weight(x_sorted: typing.Any, t: typing.Any) -> numpy.typing.NDArray[numpy.float64]:
    """
    The empirical weight g of the sample at the points t.
    """
def gram(x_sorted: typing.Any, theta: typing.Any) -> numpy.typing.NDArray[numpy.float64]:
    """
    J J^T / n in the sorted order, O(n^2 + m log n).
    """
def history_columns() -> list:
    """
    The recorded history's columns in order: (name, dtype, filled, description) each, filled being 'every_row' or 'sharpness_rows'.
    """
def merged_knots(theta: typing.Any) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
    """
    Distinct knots (ascending) and their summed slope jumps; zero sums dropped.
    """
def parallel_grain() -> int:
    """
    Neurons per thread below which the fast kernel's loops use fewer threads.
    """
def scatter_block_min() -> int:
    """
    Neurons per block (at least) of the fast kernel's scatter into slots: sets the order of additions.
    """
def set_parallel_grain(items: typing.Any) -> int:
    """
    Set parallel_grain() for the process (tests lower it to thread small problems; the results never depend on it); returns the previous value.
    """
def set_scatter_block_min(neurons: typing.Any) -> int:
    """
    Set scatter_block_min() for the process (tests lower it to exercise the blocked scatter on small problems); returns the previous value. Results depend on it, never on the threads.
    """
def set_simd_path(name: str) -> str:
    """
    Use the SIMD path `name` ('auto': the best available) from now on; returns the previous one. ValueError for an unknown or unavailable path. Every path gives the same bits.
    """
def set_sweep_block_points(points: typing.Any) -> int:
    """
    Set sweep_block_points() for the process (tests lower it to exercise the blocked sweeps on small data); returns the previous value. Results depend on it, never on the threads.
    """
def simd_path() -> str:
    """
    The SIMD path of the per-neuron loops in use.
    """
def simd_path_names() -> list[str]:
    """
    Every SIMD path name this package knows.
    """
def simd_paths_available() -> list[str]:
    """
    The SIMD paths this build has and this CPU runs, slowest first ('portable' always).
    """
def sweep_block_points() -> int:
    """
    Data points per block of the fast kernel's sweeps: sets the order of additions.
    """
def theta_width(length: typing.SupportsInt | typing.SupportsIndex) -> int:
    """
    The width m of a parameter vector of length 3m+1 (m >= 1), else ValueError.
    """
def weighted_tv1(x_sorted: typing.Any, theta: typing.Any) -> float:
    """
    integral |f''| g over the sample's range.
    """
EFFECTIVE_KNOT_REL_TOL: float = 0.01
KERNELS: tuple = ('fast', 'dense')
STOP_REASONS: tuple = ('max_steps', 'converged', 'diverged', 'time')
