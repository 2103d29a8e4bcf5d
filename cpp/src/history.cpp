// The history's column table: one entry per recorded statistic.
#include "relu1d/history.hpp"

#include <limits>

#include "relu1d/function_space.hpp"

namespace relu1d {

namespace {

HistoryColumn int64_column(std::string name, Filled filled, std::string description,
                           std::function<std::int64_t(const RowContext&)> value) {
    return {std::move(name), ColumnType::int64, filled, std::move(description), std::move(value), nullptr};
}

HistoryColumn float64_column(std::string name, Filled filled, std::string description,
                             std::function<double(const RowContext&)> value) {
    return {std::move(name), ColumnType::float64, filled, std::move(description), nullptr, std::move(value)};
}

// Weighted TV(1) and effective knots at this row: one computation for both columns, the knots'
// sort warm-started from the previous measurement (see FunctionSpaceTracker).
FunctionSpaceStats function_space(const RowContext& r) {
    thread_local FunctionSpaceTracker tracker;
    return tracker(Params(r.theta(), r.kernel.dim()), r.kernel.data());
}

std::vector<HistoryColumn> make_columns() {
    const auto every = Filled::every_row;
    const auto measured = Filled::sharpness_rows;
    return {
        int64_column("step", every, "the GD step (theta after this many steps)",
                     [](const RowContext& r) { return r.step; }),
        float64_column("loss", every, "L(theta) = 1/(2n) sum_i (f(x_i) - y_i)^2 at that step, before the update",
                       [](const RowContext& r) { return r.loss; }),
        float64_column("grad_norm", every, "||grad L(theta)||",
                       [](const RowContext& r) { return r.grad_norm; }),
        float64_column("lr", every, "the step size of the schedule (before clipping)",
                       [](const RowContext& r) { return r.lr; }),
        int64_column("knots", every, "neurons (v_k w_k != 0) whose knot separates the data",
                     [](const RowContext& r) { return static_cast<std::int64_t>(r.kernel.knots_inside()); }),
        float64_column("sharpness", measured, "top Hessian eigenvalue (NaN where not measured)",
                       [](const RowContext& r) { return r.eigen->values[0]; }),
        float64_column("sharpness_residual", measured, "||H q - lambda q|| of the measured eigenpair",
                       [](const RowContext& r) { return r.eigen->residuals[0]; }),
        int64_column("sharpness_products", measured, "Hessian-vector products the measurement used (-1 where not measured)",
                     [](const RowContext& r) { return static_cast<std::int64_t>(r.eigen->products); }),
        float64_column("wtv1", measured,
                       "weighted TV(1): integral |f''| g, g the weight function of the training inputs",
                       [](const RowContext& r) { return function_space(r).wtv1; }),
        int64_column("effective_knots", measured,
                     "knots inside the data range carrying >= 1% of its TV(1) (-1 where not measured)",
                     [](const RowContext& r) {
                         return static_cast<std::int64_t>(function_space(r).effective_knots);
                     }),
        float64_column("time", every, "wall seconds since the run began",
                       [](const RowContext& r) { return r.time; }),
    };
}

}  // namespace

const std::vector<HistoryColumn>& history_columns() {
    static const std::vector<HistoryColumn> columns = make_columns();
    return columns;
}

const char* column_type_name(ColumnType type) { return type == ColumnType::int64 ? "int64" : "float64"; }

const char* filled_name(Filled filled) { return filled == Filled::every_row ? "every_row" : "sharpness_rows"; }

Records::Records() : i64_(history_columns().size()), f64_(history_columns().size()) {}

void Records::append(const RowContext& row) {
    const auto& columns = history_columns();
    for (std::size_t c = 0; c < columns.size(); ++c) {
        const HistoryColumn& col = columns[c];
        const bool skip = col.filled == Filled::sharpness_rows && row.eigen == nullptr;
        if (col.type == ColumnType::int64)
            i64_[c].push_back(skip ? -1 : col.i64(row));  // -1: not measured on this row
        else
            f64_[c].push_back(skip ? std::numeric_limits<double>::quiet_NaN() : col.f64(row));
    }
    ++rows_;
}

void Records::clear() {
    for (auto& v : i64_) v.clear();
    for (auto& v : f64_) v.clear();
    rows_ = 0;
}

}  // namespace relu1d
