// The flat parameter vector theta = [w(m), b(m), v(m), c], float64, length 3m + 1.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace relu1d {

// The width m of a parameter vector of length size = 3m + 1 with m >= 1, or std::invalid_argument:
// the one check of theta's length (Python's relu1d._validate.as_theta calls it too).
inline std::size_t theta_width(std::size_t size) {
    if (size < 4 || (size - 1) % 3 != 0)
        throw std::invalid_argument("theta: length must be 3*m+1 for some width m >= 1, got " + std::to_string(size));
    return (size - 1) / 3;
}

struct Params {
    const double* w;
    const double* b;
    const double* v;
    double c;
    std::size_t m;

    Params(const double* theta, std::size_t size) {
        m = theta_width(size);
        w = theta;
        b = theta + m;
        v = theta + 2 * m;
        c = theta[3 * m];
    }
    std::size_t dim() const { return 3 * m + 1; }
};

}  // namespace relu1d
