// A data set sorted once by x, with the prefix sums of x.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace relu1d {

// Prefix sums kept in double-double form: sum_{j<i} t_j ~ hi[i] + lo[i].
struct PrefixSum {
    std::vector<double> hi, lo;  // length n + 1
    void resize(std::size_t n) { hi.assign(n + 1, 0.0); lo.assign(n + 1, 0.0); }
    // sum_{a <= j < b} t_j, accurate to about eps * |result| + eps * |lo terms|.
    double range(std::size_t a, std::size_t b) const { return (hi[b] - hi[a]) + (lo[b] - lo[a]); }
};

// Fill p with the compensated prefix sums of t[0..n).
void prefix_sum(const double* t, std::size_t n, PrefixSum& p);

class SortedData {
public:
    // x and y of length n, already sorted ascending by x (the Python layer sorts).
    SortedData(const double* x, const double* y, std::size_t n);

    std::size_t n() const { return x_.size(); }
    const double* x() const { return x_.data(); }
    const double* y() const { return y_.data(); }
    // Compensated prefix sums of x (used by function_space). A difference of two of them
    // carries an error of about eps^2 times the sum of |x| over everything before the interval,
    // not only inside it; the fast kernel's Hessian uses its own interval sums instead.
    const PrefixSum& moment_x() const { return mx_; }

private:
    std::vector<double> x_, y_;
    PrefixSum mx_;
};

}  // namespace relu1d
