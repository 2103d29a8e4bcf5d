// A data set sorted once by x.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace relu1d {

class SortedData {
public:
    // x and y of length n, already sorted ascending by x (the Python layer sorts).
    SortedData(const double* x, const double* y, std::size_t n);

    std::size_t n() const { return x_.size(); }
    const double* x() const { return x_.data(); }
    const double* y() const { return y_.data(); }

private:
    std::vector<double> x_, y_;
};

}  // namespace relu1d
