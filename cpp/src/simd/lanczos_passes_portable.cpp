// The Lanczos re-orthogonalisation pass, portable: plain C++ that the compiler vectorises for the
// build's target. The <isa> versions (lanczos_passes_<isa>.cpp) give the same bits.
#include "neuron_loops.hpp"

namespace relu1d {
namespace detail {

void project_out(double* w, const double* Q, std::size_t j, std::size_t dim) {
    for (std::size_t r = 0; r < j; ++r) {
        const double* q = Q + r * dim;
        const double h = dot(q, w, dim);
        for (std::size_t i = 0; i < dim; ++i) w[i] -= h * q[i];
    }
}

}  // namespace detail
}  // namespace relu1d
