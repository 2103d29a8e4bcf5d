// The flat parameter vector theta = [w(m), b(m), v(m), c], float64, length 3m + 1.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace relu1d {

struct Params {
    const double* w;
    const double* b;
    const double* v;
    double c;
    std::size_t m;

    Params(const double* theta, std::size_t size) {
        if (size < 1 || (size - 1) % 3 != 0)
            throw std::invalid_argument("theta: length must be 3*m + 1, got " + std::to_string(size));
        m = (size - 1) / 3;
        w = theta;
        b = theta + m;
        v = theta + 2 * m;
        c = theta[3 * m];
    }
    std::size_t dim() const { return 3 * m + 1; }
};

}  // namespace relu1d
