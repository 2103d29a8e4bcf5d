#include "relu1d/data.hpp"

#include <stdexcept>

namespace relu1d {

SortedData::SortedData(const double* x, const double* y, std::size_t n) : x_(x, x + n), y_(y, y + n) {
    if (n == 0) throw std::invalid_argument("x: data must contain at least one point");
    for (std::size_t i = 1; i < n; ++i)
        if (!(x_[i - 1] <= x_[i])) throw std::invalid_argument("x: must be sorted ascending");
}

}  // namespace relu1d
