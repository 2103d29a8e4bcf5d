#include "relu1d/data.hpp"

#include <stdexcept>

#include "relu1d/numerics.hpp"

namespace relu1d {

void prefix_sum(const double* t, std::size_t n, PrefixSum& p) {
    double* hi = p.hi.data();
    double* lo = p.lo.data();
    CompensatedSum s;
    hi[0] = lo[0] = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        s.add(t[i]);
        hi[i + 1] = s.hi;
        lo[i + 1] = s.lo;
    }
}

SortedData::SortedData(const double* x, const double* y, std::size_t n) : x_(x, x + n), y_(y, y + n) {
    if (n == 0) throw std::invalid_argument("x: data must contain at least one point");
    for (std::size_t i = 1; i < n; ++i)
        if (!(x_[i - 1] <= x_[i])) throw std::invalid_argument("x: must be sorted ascending");
    mx_.resize(n);
    prefix_sum(x_.data(), n, mx_);
}

}  // namespace relu1d
