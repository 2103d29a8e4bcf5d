// The recorded history of a GD run as one table of columns. The record buffer (Records), the
// Python history (its keys, dtypes and docs) and the checkpoint layout all follow from
// history_columns(): adding a statistic is one entry there (history.cpp) and nothing else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "relu1d/kernel.hpp"
#include "relu1d/lanczos.hpp"

namespace relu1d {

enum class ColumnType : int { int64 = 0, float64 = 1 };

// When a column gets a value: at every recorded row, or only at rows where the sharpness was
// measured (the other rows hold NaN, or -1 in an int64 column, and the fill is not called).
enum class Filled : int { every_row = 0, sharpness_rows = 1 };

// What the trainer knows at a recorded step, for the columns to read.
struct RowContext {
    std::int64_t step;
    double loss;        // L(theta) at this step, before the update
    double grad_norm;   // ||grad L(theta)||
    double lr;          // the step size of the schedule at this step (before clipping)
    double time;        // wall seconds since the run began
    Kernel& kernel;     // prepared at this step's theta
    double* theta_;     // this step's theta, dim = kernel.dim() (read it through theta())
    const EigenResult* eigen;  // the sharpness measurement at this step, or null (none here)

    // This step's theta, complete (the kernel may keep part of it elsewhere between steps).
    const double* theta() const {
        kernel.sync();
        return theta_;
    }
};

struct HistoryColumn {
    std::string name;
    ColumnType type;
    Filled filled;
    std::string description;  // one line, with the units (the Python docs show it)
    // The value at a row: i64 for int64 columns, f64 for float64 columns (the other one empty).
    std::function<std::int64_t(const RowContext&)> i64;
    std::function<double(const RowContext&)> f64;
};

// The columns, in order. The first is "step".
const std::vector<HistoryColumn>& history_columns();
// The name of a ColumnType as NumPy spells it ("int64", "float64"), and of a Filled value.
const char* column_type_name(ColumnType type);
const char* filled_name(Filled filled);

// Rows of the history, one buffer per column of history_columns().
class Records {
public:
    Records();
    // Append the row of this step: every column filled as its entry says.
    void append(const RowContext& row);
    std::size_t rows() const { return rows_; }
    void clear();
    // Column c's values (int64 or float64 as history_columns()[c].type says).
    const std::vector<std::int64_t>& int64_column(std::size_t c) const { return i64_[c]; }
    const std::vector<double>& float64_column(std::size_t c) const { return f64_[c]; }

private:
    std::size_t rows_ = 0;
    std::vector<std::vector<std::int64_t>> i64_;  // per column (empty for float64 columns)
    std::vector<std::vector<double>> f64_;        // per column (empty for int64 columns)
};

}  // namespace relu1d
