// Self-contained checks of the C++ core (no Python): fast and dense kernels agree, the Hessian
// is symmetric with H[c, c] = 1, Hessian columns are HVPs, Lanczos finds the top eigenvalue, the
// trainer's records follow the history table.
// Build with -DRELU1D_BUILD_TESTS=ON and run ctest.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include <cstring>
#include <limits>
#include <string>

#include "../src/interval_moments.hpp"
#include "../src/simd/neuron_loops.hpp"
#include "relu1d/fast_kernel.hpp"
#include "relu1d/lanczos.hpp"
#include "relu1d/parallel.hpp"
#include "relu1d/simd.hpp"
#include "relu1d/trainer.hpp"

using namespace relu1d;

static int failures = 0;

static void check(bool ok, const char* what) {
    if (!ok) {
        std::printf("FAIL: %s\n", what);
        ++failures;
    }
}

static void check(bool ok, const std::string& what) { check(ok, what.c_str()); }

// Bit-for-bit equality of two arrays (NaN payloads included).
template <class T>
static bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Every SIMD path this machine runs against the portable one, bit for bit: first the per-neuron
// loops themselves on random inputs (boundaries that stay, move by one point or by many, w = 0,
// NaN, wild coefficients, m not a multiple of the vector width), then 300 GD steps and the
// gradient, HVP and sharpness after them.
static void check_simd_paths(std::mt19937_64& gen) {
    const auto paths = simd_paths_available();
    check(!paths.empty() && paths.front() == "portable" && simd_path() == best_simd_path(),
          "simd: portable available, the best path in use at start-up");
    bool unknown_rejected = false;
    try {
        set_simd_path("sse9");
    } catch (const std::invalid_argument&) {
        unknown_rejected = true;
    }
    check(unknown_rejected && simd_path() == best_simd_path(), "simd: an unknown path is rejected, nothing changed");
    std::printf("SIMD paths: ");
    for (const auto& p : paths) std::printf("%s ", p.c_str());
    std::printf("(in use: %s)\n", simd_path().c_str());

    std::uniform_real_distribution<double> U(-1.0, 1.0);
    const std::size_t n = 50, m = 101;  // 101 = 12 * 8 + 5: every path has a tail
    std::vector<double> xp(n + 4), w(m), b(m), v(m), Ut(2 * (2 * n + 2));
    const double inf = std::numeric_limits<double>::infinity();
    xp[0] = xp[1] = -inf;
    for (std::size_t i = 0; i < n; ++i) xp[i + 2] = std::ldexp(std::round(std::ldexp(U(gen), 4)), -4);  // ties
    std::sort(xp.begin() + 2, xp.begin() + 2 + n);
    xp[n + 2] = xp[n + 3] = inf;
    for (auto& u : Ut) u = U(gen);
    std::vector<std::size_t> slot(m);
    std::uniform_int_distribution<std::size_t> S(0, 2 * n + 1);
    for (int trial = 0; trial < 20; ++trial) {
        for (std::size_t k = 0; k < m; ++k) {
            w[k] = U(gen), v[k] = U(gen);
            const double x = xp[2 + (k * 7 + trial) % n];
            b[k] = k % 3 == 0 ? -w[k] * x : U(gen);  // a knot on a data point for every third
            slot[k] = S(gen);
        }
        w[5] = 0.0, w[13] = -0.0, w[21] = std::numeric_limits<double>::quiet_NaN();
        v[30] = 1e300, w[30] = 1e10;  // wild coefficients
        const double scale = 1.0, limit = 0x1p1020 / static_cast<double>(m + 1);
        std::vector<std::size_t> s_ref(slot), c_ref(slot);
        std::vector<double> w_ref(w), b_ref(b), v_ref(v), g2_ref(m), ab_ref(2 * m);
        std::size_t wild_ref = 0;
        const std::size_t f_ref =
            detail::descend_neurons(m, n, 1.0 / n, 0.3, w_ref.data(), b_ref.data(), v_ref.data(), s_ref.data(),
                                    Ut.data(), xp.data(), g2_ref.data(), detail::kPerNeuron, ab_ref.data(), scale,
                                    limit, wild_ref);
        const std::size_t fc_ref = detail::check_boundaries(m, n, w.data(), b.data(), xp.data(), c_ref.data());
        for (const auto& path : paths) {
            set_simd_path(path);
            const detail::SimdLoops& loops = detail::simd_loops();
            std::vector<std::size_t> s1(slot), c1(slot);
            std::vector<double> w1(w), b1(b), v1(v), g21(m), ab1(2 * m);
            std::size_t wild1 = 0;
            const std::size_t f1 =
                loops.descend_neurons(m, n, 1.0 / n, 0.3, w1.data(), b1.data(), v1.data(), s1.data(), Ut.data(),
                                      xp.data(), g21.data(), detail::kPerNeuron, ab1.data(), scale, limit, wild1);
            // the same step with ||g_k||^2 summed into the 32 lanes (from a lane where the SIMD
            // loops start, and from one where they hand over to the portable loop): sum()'s partial sums
            for (const std::size_t first : {std::size_t{8}, std::size_t{3}}) {
                std::vector<std::size_t> s2(slot);
                std::vector<double> w2(w), b2(b), v2(v), ab2(2 * m), lanes(kSumLanes, 0.0), want(kSumLanes, 0.0);
                for (std::size_t k = 0; k < m; ++k) want[(first + k) % kSumLanes] += g2_ref[k];
                std::size_t wild2 = 0;
                const std::size_t f2 =
                    loops.descend_neurons(m, n, 1.0 / n, 0.3, w2.data(), b2.data(), v2.data(), s2.data(), Ut.data(),
                                          xp.data(), lanes.data(), first, ab2.data(), scale, limit, wild2);
                check(f2 == f_ref && wild2 == wild_ref && same_bits(s2, s_ref) && same_bits(w2, w_ref) &&
                          same_bits(b2, b_ref) && same_bits(v2, v_ref) && same_bits(ab2, ab_ref) &&
                          same_bits(lanes, want),
                      "simd: descend_neurons into lanes from " + std::to_string(first) + ", path " + path +
                          " == portable per neuron, bit for bit");
            }
            const std::size_t fc1 = loops.check_boundaries(m, n, w.data(), b.data(), xp.data(), c1.data());
            check(f1 == f_ref && wild1 == wild_ref && same_bits(s1, s_ref) && same_bits(w1, w_ref) &&
                      same_bits(b1, b_ref) && same_bits(v1, v_ref) && same_bits(g21, g2_ref) &&
                      same_bits(ab1, ab_ref),
                  "simd: descend_neurons, path " + path + " == portable, bit for bit");
            check(fc1 == fc_ref && same_bits(c1, c_ref), "simd: check_boundaries, path " + path + " == portable");
        }
        check(f_ref > 0 && wild_ref > 0, "simd: the random inputs flag boundaries and wild coefficients");
    }

    // Lanczos' vector passes (lengths around the 32 partial sums of dot()): each reduction is
    // dot()'s (the portable passes against numerics.hpp), and every path gives the portable bits
    for (std::size_t dim : {1u, 7u, 31u, 32u, 33u, 100u, 257u}) {
        std::vector<double> p(dim), q(dim), w0(dim);
        for (auto& e : p) e = U(gen);
        for (auto& e : q) e = U(gen);
        for (auto& e : w0) e = 1e3 * U(gen);
        const double c = 0.37;
        std::vector<double> want(w0);
        for (std::size_t i = 0; i < dim; ++i) want[i] -= c * p[i];
        const double dot_ref = dot(p.data(), q.data(), dim);
        const double qw_ref = dot(q.data(), want.data(), dim), ww_ref = dot(want.data(), want.data(), dim);
        std::vector<double> ref1(w0), ref2(w0);
        check(same_bits(std::vector<double>{detail::vector_dot(p.data(), q.data(), dim)}, std::vector<double>{dot_ref}) &&
                  same_bits(std::vector<double>{detail::subtract_then_dot(ref1.data(), c, p.data(), q.data(), dim)},
                            std::vector<double>{qw_ref}) &&
                  same_bits(std::vector<double>{detail::subtract_then_norm2(ref2.data(), c, p.data(), dim)},
                            std::vector<double>{ww_ref}) &&
                  same_bits(ref1, want) && same_bits(ref2, want),
              "simd: the portable vector passes are dot() after w -= c p, dim " + std::to_string(dim));
        for (const auto& path : paths) {
            set_simd_path(path);
            const auto& loops = detail::simd_loops();
            std::vector<double> w1(w0), w2(w0);
            const double d = loops.dot(p.data(), q.data(), dim);
            const double qw = loops.subtract_then_dot(w1.data(), c, p.data(), q.data(), dim);
            const double ww = loops.subtract_then_norm2(w2.data(), c, p.data(), dim);
            check(same_bits(std::vector<double>{d, qw, ww}, std::vector<double>{dot_ref, qw_ref, ww_ref}) &&
                      same_bits(w1, want) && same_bits(w2, want),
                  "simd: Lanczos' vector passes, path " + path + ", dim " + std::to_string(dim) + " == portable");
        }
    }

    // GD through the kernel: 300 steps with boundaries crossing data points, then the gradient,
    // HVP and the top eigenvalue, each path against the portable one
    std::vector<double> x(200), y(200);
    for (auto& xi : x) xi = U(gen);
    std::sort(x.begin(), x.end());
    for (std::size_t i = 0; i < x.size(); ++i) y[i] = std::abs(x[i]) - 0.5 + 0.1 * U(gen);
    auto data = std::make_shared<const SortedData>(x.data(), y.data(), x.size());
    const std::size_t mm = 37, d = 3 * mm + 1;
    std::vector<double> theta0(d), u(d);
    for (auto& t : theta0) t = U(gen);
    theta0[1] = 0.0;  // w = 0
    for (auto& t : u) t = U(gen);
    std::vector<double> ref_theta, ref_grad, ref_hvp;
    double ref_loss = 0.0, ref_top = 0.0;
    for (const auto& path : paths) {
        set_simd_path(path);
        std::vector<double> theta(theta0), g(d), h(d);
        auto kernel = make_kernel(KernelKind::fast, data, 1);
        kernel->prepare(theta.data(), d);
        for (int step = 0; step < 300; ++step) kernel->descend(0.2, theta.data());
        kernel->sync();
        const double loss = kernel->loss();
        kernel->gradient(g.data());
        kernel->hvp(u.data(), h.data());
        Lanczos lanczos;
        Kernel* kp = kernel.get();
        const double top =
            lanczos.solve([kp](const double* in, double* out) { kp->hvp(in, out); }, d, LanczosOptions{}).values[0];
        if (path == "portable") {
            ref_theta = theta, ref_grad = g, ref_hvp = h, ref_loss = loss, ref_top = top;
            check(!same_bits(theta, theta0), "simd: GD moved theta");
            continue;
        }
        check(same_bits(theta, ref_theta) && loss == ref_loss && same_bits(g, ref_grad) && same_bits(h, ref_hvp) &&
                  top == ref_top,
              "simd: 300 GD steps, gradient, HVP and sharpness, path " + path + " == portable, bit for bit");
    }
    set_simd_path("auto");
}

// The interval moments' table (what the Hessian looks up at m >= n) against the computation it
// replaces, bit for bit, for every interval of data spread over several blocks.
static void check_interval_table(std::mt19937_64& gen) {
    std::uniform_real_distribution<double> U(-3.0, 3.0);
    const std::size_t n = 200;
    std::vector<double> x(n);
    for (auto& v : x) v = U(gen);
    x[7] = 1e100;  // outside the tame range [2^-200, 2^200]
    x[9] = 1e-300;
    std::sort(x.begin(), x.end());
    detail::IntervalMoments computed(x.data(), n), table(x.data(), n);
    table.tabulate();
    bool same = true;
    for (std::size_t a = 0; a < n; ++a)
        for (std::size_t b = a + 1; b <= n; ++b) {
            double s1, s2, t1, t2;
            computed.range(a, b, s1, s2);
            table.range(a, b, t1, t2);
            same &= std::memcmp(&s1, &t1, sizeof s1) == 0 && std::memcmp(&s2, &t2, sizeof s2) == 0;
        }
    check(same, "interval moments: the table gives the computed sums, bit for bit");
}

int main() {
    std::mt19937_64 gen(42);
    check_interval_table(gen);
    std::uniform_real_distribution<double> U(-1.0, 1.0);
    const std::size_t n = 64, m = 9, d = 3 * m + 1;
    std::vector<double> x(n), y(n), theta(d), u(d);
    for (auto& v : x) v = std::ldexp(std::round(std::ldexp(U(gen), 6)), -6);  // dyadic, with ties
    std::sort(x.begin(), x.end());
    for (std::size_t i = 0; i < n; ++i) y[i] = std::sin(3.0 * x[i]);
    for (auto& v : theta) v = U(gen);
    theta[0] = 1.0;
    theta[m] = -x[n / 2];  // a knot exactly on a data point
    theta[1] = 0.0;        // w = 0 ...
    theta[m + 1] = 0.5;    // ... with b > 0
    for (auto& v : u) v = U(gen);

    auto data = std::make_shared<const SortedData>(x.data(), y.data(), n);
    auto fast = make_kernel(KernelKind::fast, data, 1);
    auto dense = make_kernel(KernelKind::dense, data, 1);
    const double lf = fast->prepare(theta.data(), d), ld = dense->prepare(theta.data(), d);
    check(std::abs(lf - ld) <= 1e-14 * std::abs(ld), "loss: fast == dense");
    std::vector<double> gf(d), gd(d), hf(d), hd(d), Hf(d * d), Hd(d * d);
    fast->gradient(gf.data());
    dense->gradient(gd.data());
    fast->hvp(u.data(), hf.data());
    dense->hvp(u.data(), hd.data());
    fast->hessian(Hf.data());
    dense->hessian(Hd.data());
    double gscale = 0.0, hscale = 0.0, Hscale = 0.0;
    for (std::size_t q = 0; q < d; ++q) gscale = std::max(gscale, std::abs(gd[q]));
    for (std::size_t q = 0; q < d; ++q) hscale = std::max(hscale, std::abs(hd[q]));
    for (std::size_t q = 0; q < d * d; ++q) Hscale = std::max(Hscale, std::abs(Hd[q]));
    bool grad_ok = true, hvp_ok = true, hess_ok = true, sym_ok = true, col_ok = true;
    for (std::size_t q = 0; q < d; ++q) {
        grad_ok &= std::abs(gf[q] - gd[q]) <= 1e-13 * gscale;
        hvp_ok &= std::abs(hf[q] - hd[q]) <= 1e-13 * hscale;
    }
    for (std::size_t a = 0; a < d; ++a)
        for (std::size_t b = 0; b < d; ++b) {
            hess_ok &= std::abs(Hf[a * d + b] - Hd[a * d + b]) <= 1e-13 * Hscale;
            sym_ok &= Hf[a * d + b] == Hf[b * d + a];
        }
    check(grad_ok, "gradient: fast == dense");
    check(hvp_ok, "hvp: fast == dense");
    check(hess_ok, "hessian: fast == dense");
    check(sym_ok, "hessian: symmetric");
    check(Hf[d * d - 1] == 1.0 && Hd[d * d - 1] == 1.0, "hessian: H[c, c] == 1");
    // Hessian column j == H e_j
    std::vector<double> e(d, 0.0), col(d);
    for (std::size_t j = 0; j < d; ++j) {
        e[j] = 1.0;
        fast->hvp(e.data(), col.data());
        e[j] = 0.0;
        for (std::size_t a = 0; a < d; ++a) col_ok &= std::abs(col[a] - Hf[a * d + j]) <= 1e-13 * Hscale;
    }
    check(col_ok, "hessian columns == HVPs");
    // Lanczos top eigenvalue: Rayleigh quotient check and lambda_max >= 1
    Lanczos lanczos;
    LanczosOptions opt;
    opt.k = 2;
    Kernel* kf = fast.get();
    const EigenResult er = lanczos.solve([kf](const double* in, double* out) { kf->hvp(in, out); }, d, opt);
    check(er.converged, "lanczos: converged");
    check(er.values[0] >= 1.0 - 1e-12, "lanczos: lambda_max >= 1");
    check(er.values[0] >= er.values[1], "lanczos: ordered");
    check(er.residuals[0] <= 1e-8 * std::abs(er.values[0]), "lanczos: small residual");
    {  // an operator that overflows: every pair stops at its first product, NaN, not converged
        LanczosOptions big;
        big.k = 2;
        big.max_iter = 200;
        const EigenResult bad = lanczos.solve(
            [d](const double* in, double* out) {
                for (std::size_t q = 0; q < d; ++q) out[q] = in[q] * std::numeric_limits<double>::infinity();
            },
            d, big);
        check(!bad.converged && std::isnan(bad.values[0]) && std::isnan(bad.values[1]) && bad.iterations == 1 &&
                  bad.products == 1,
              "lanczos: an overflowing operator stops at its first product with NaN eigenpairs");
    }
    // GD steps: the fast kernel's fused, in-place step (over its live neurons) against the
    // reference step (gradient, theta - eta g, prepare) on the same kernel, bit for bit; then the
    // state it leaves against a fresh prepare
    std::vector<double> ta(theta), tb(theta);
    ta[2] = tb[2] = 1.0;
    ta[m + 2] = tb[m + 2] = -5.0;  // a dead neuron: inactive on all of [-1, 1]
    auto reference = make_kernel(KernelKind::fast, data, 1);
    fast->prepare(ta.data(), d);
    reference->prepare(tb.data(), d);
    bool steps_ok = true;
    for (int step = 0; step < 200; ++step) {
        fast->descend(0.05, ta.data());
        reference->Kernel::descend(0.05, tb.data());
        if (step % 50 == 0) fast->sync();
    }
    fast->sync();
    for (std::size_t q = 0; q < d; ++q) steps_ok &= ta[q] == tb[q];
    check(steps_ok, "descend: fused fast step == reference step Kernel::descend");
    const double stepped = fast->loss();
    check(stepped == fast->prepare(ta.data(), d), "descend: prepared state == fresh prepare");
    // The segment sweep (few neurons, many points: used here, 4 m < n) against the sweep over every
    // point, bit for bit: loss, gradient, HVP, and 100 GD steps; on the data above and on a larger
    // set with ties, a dead neuron, w = 0 and knots on data points
    std::vector<double> xl(1000), yl(1000);
    for (auto& v : xl) v = std::ldexp(std::round(std::ldexp(U(gen), 7)), -7);  // many ties
    std::sort(xl.begin(), xl.end());
    for (std::size_t i = 0; i < xl.size(); ++i) yl[i] = std::sin(5.0 * xl[i]) + 0.1 * U(gen);
    auto large = std::make_shared<const SortedData>(xl.data(), yl.data(), xl.size());
    // (with sweep blocks of the default size, of 64 and of 7 points, on 1 and 3 threads: stretches
    // across blocks are summed a piece per block, on threads in the segment sweep)
    const std::size_t sweep_block0 = sweep_block_points(), grain_before = parallel_grain();
    for (const std::size_t sweep_points : {sweep_block0, std::size_t{64}, std::size_t{7}})
    for (const int sweep_threads : {1, 3})
    for (const auto& set : {data, large}) {
        set_sweep_block_points(sweep_points);
        set_parallel_grain(1);
        std::vector<double> th(theta);
        th[1] = 0.0, th[m + 1] = 0.5;                  // w = 0, active everywhere
        th[2] = 1.0, th[m + 2] = -5.0;                 // dead
        th[3] = 2.0, th[m + 3] = -2.0 * set->x()[set->n() / 3];  // a knot on a data point
        th[4] = -1.5, th[m + 4] = 1.5 * set->x()[set->n() / 2];  // prefix neurons with knots inside
        th[5] = -0.75, th[m + 5] = 0.75 * set->x()[(3 * set->n()) / 4] + 0.001;
        th[6] = 0.5, th[m + 6] = -0.5 * set->x()[set->n() / 5] - 0.001;
        auto seg = std::make_unique<FastKernel>(set, sweep_threads);
        auto all = std::make_unique<FastKernel>(set);
        all->set_segment_ratio(0);
        std::vector<double> t1(th), t2(th), g1(d), g2(d), h1(d), h2(d);
        bool same = seg->prepare(t1.data(), d) == all->prepare(t2.data(), d);
        seg->gradient(g1.data());
        all->gradient(g2.data());
        seg->hvp(u.data(), h1.data());
        all->hvp(u.data(), h2.data());
        for (std::size_t q = 0; q < d; ++q) same &= g1[q] == g2[q] && h1[q] == h2[q];
        for (int step = 0; step < 100; ++step) same &= seg->descend(0.05, t1.data()) == all->descend(0.05, t2.data());
        seg->sync();
        all->sync();
        for (std::size_t q = 0; q < d; ++q) same &= t1[q] == t2[q];
        same &= seg->loss() == all->loss();
        set_sweep_block_points(sweep_block0);
        set_parallel_grain(grain_before);
        check(same, "segment sweep == full sweep, bit for bit (sweep block " + std::to_string(sweep_points) +
                        ", " + std::to_string(sweep_threads) + " threads)");
    }
    // Threads: with a thread per neuron and scatter blocks of 4 (n + 1) neurons, 1, 2, 3 and 8
    // threads give the same bits (loss, gradient, HVP, Hessian, 50 GD steps over the live neurons)
    {
        const std::size_t grain0 = parallel_grain(), block0 = scatter_block_min();
        set_parallel_grain(1);
        set_scatter_block_min(1);
        const std::size_t nt = 9, mt = 200, dt = 3 * mt + 1;
        std::vector<double> xt(nt), yt(nt), tht(dt), ut(dt);
        for (std::size_t i = 0; i < nt; ++i) xt[i] = -1.0 + 0.25 * static_cast<double>(i), yt[i] = U(gen);
        for (auto& v : tht) v = U(gen);
        for (auto& v : ut) v = U(gen);
        for (std::size_t k = 0; k < mt; k += 4) tht[k] = 1.0, tht[mt + k] = -5.0;  // dead: not in the step
        auto small = std::make_shared<const SortedData>(xt.data(), yt.data(), nt);
        std::vector<double> ref;
        bool same = true;
        for (int threads : {1, 2, 3, 8}) {
            FastKernel k(small, threads);
            std::vector<double> t(tht), out(dt), H(dt * dt), all;
            all.push_back(k.prepare(t.data(), dt));
            k.gradient(out.data());
            all.insert(all.end(), out.begin(), out.end());
            k.hvp(ut.data(), out.data());
            all.insert(all.end(), out.begin(), out.end());
            k.hessian(H.data());
            all.insert(all.end(), H.begin(), H.end());
            for (int step = 0; step < 50; ++step) all.push_back(k.descend(0.02, t.data()));
            k.sync();
            all.insert(all.end(), t.begin(), t.end());
            all.push_back(k.loss());
            if (ref.empty()) ref = all;
            else same &= std::memcmp(ref.data(), all.data(), ref.size() * sizeof(double)) == 0;
        }
        check(same, "fast kernel: bit-identical for 1, 2, 3 and 8 threads (blocked scatter)");
        // Lanczos on the kernel's pool: dim = 36001, three blocks of its vector passes
        const std::size_t mw = 12000, dw = 3 * mw + 1;
        std::vector<double> thw(dw);
        for (auto& v : thw) v = U(gen);
        std::vector<double> pairs_ref;
        bool same_pairs = true;
        for (int threads : {1, 3}) {
            FastKernel k(small, threads);
            k.prepare(thw.data(), dw);
            LanczosOptions lo;
            lo.k = 2;
            Lanczos solver;
            const EigenResult er = solver.solve([&k](const double* u, double* o) { k.hvp(u, o); }, dw, lo, nullptr,
                                                k.workers(dw));
            std::vector<double> got(er.values);
            got.insert(got.end(), er.vectors.begin(), er.vectors.end());
            if (pairs_ref.empty()) pairs_ref = got;
            else same_pairs &= std::memcmp(got.data(), pairs_ref.data(), got.size() * sizeof(double)) == 0;
        }
        check(same_pairs, "Lanczos: bit-identical eigenpairs on 1 and 3 threads");
        set_parallel_grain(grain0);
        set_scatter_block_min(block0);
    }
    // Points far outside a neuron's active set change nothing: relu(x) sees 0.5 and 0.75 only, the
    // points at -4.28e38 and -1.65e9 (labels 1e40 and -3e40) never enter its sums. Exact (dyadic)
    // values, from both sweeps.
    {
        const double xo[4] = {-4.28e38, -1.65e9, 0.5, 0.75}, yo[4] = {1e40, -3e40, 0.0, 0.0};
        auto far = std::make_shared<const SortedData>(xo, yo, 4);
        const double th[4] = {1.0, 0.0, 1.0, 0.0};
        for (std::size_t ratio : {std::size_t{0}, std::size_t{4}}) {
            FastKernel k(far);
            k.set_segment_ratio(ratio);
            k.prepare(th, 4);
            std::vector<double> g(4), H(16);
            k.gradient(g.data());
            k.hessian(H.data());
            check(g[0] == 0.203125 && g[1] == 0.3125 && g[2] == 0.203125, "far outliers: exact gradient");
            check(H[0] == 0.203125 && H[2] == 0.40625 && H[10] == 0.203125, "far outliers: exact Hessian");
        }
    }
    // The trainer records one row per column of the history table: "step" first, the
    // sharpness_rows columns filled at measured rows only (NaN, or -1 in int64 columns, elsewhere)
    {
        TrainOptions opt;
        opt.record_every = 2;
        opt.sharpness_every = 4;
        Trainer trainer(data, KernelKind::fast, 1, theta, 0, {}, opt);
        StepSchedule lr{{0}, {0.05}};
        Records rec;
        trainer.run(10, lr, rec, 0.0, 0.0);
        const auto& columns = history_columns();
        bool rows_ok = rec.rows() == 5 && columns.front().name == "step";
        for (std::size_t c = 0; c < columns.size(); ++c) {
            const bool ints = columns[c].type == ColumnType::int64;
            rows_ok &= (ints ? rec.int64_column(c).size() : rec.float64_column(c).size()) == rec.rows();
            rows_ok &= (ints ? rec.float64_column(c).size() : rec.int64_column(c).size()) == 0;
            if (columns[c].filled != Filled::sharpness_rows) continue;
            for (std::size_t row = 0; row < rec.rows(); ++row) {
                const bool measured = rec.int64_column(0)[row] % 4 == 0;
                const bool filled = ints ? rec.int64_column(c)[row] != -1 : !std::isnan(rec.float64_column(c)[row]);
                rows_ok &= filled == measured;
            }
        }
        check(rows_ok, "history: one buffer per column, sharpness_rows filled where measured");
        check(trainer.loss() == make_kernel(KernelKind::fast, data, 1)->prepare(trainer.theta().data(), d),
              "trainer: loss() at theta() == a fresh prepare");
    }
    check_simd_paths(gen);
    std::printf("%d failed\n", failures);
    return failures == 0 ? 0 : 1;
}
