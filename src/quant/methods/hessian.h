// The Hessian of the layer-wise reconstruction objective that GPTQ minimises (Frantar et al.
// 2022, eq. 1: argmin_Ŵ ‖W X − Ŵ X‖²₂, X the calibration inputs of the layer):
//
//   H = 2 X Xᵀ / n = (2/n) Σ_t x_t x_tᵀ          (in × in, x_t one calibration input row)
//
// the second derivative of the mean squared output error with respect to one output row of
// W, the same for every row (GPTQ §3, "H_F = 2 X_F X_Fᵀ"). The 1/n scaling only changes the
// magnitude (and so what percdamp means), as in the reference implementation, which keeps a
// running average over batches.
//
// Its diagonal is the imatrix of llama.cpp up to the factor 2: imatrix[j] = (1/n) Σ_t x_tj²
// (the mean square of input column j) and H_jj = 2 · imatrix[j]; importance() returns the
// former, what the GGUF codecs take as per-column importance.
//
// Accumulation is incremental (add() per batch of activation rows) with a rank-k update
// (BLAS syrk) into the lower triangle, in float (the reference implementation's precision;
// half the memory) or double (no cancellation drift over millions of tokens; the default).
// Memory: in² floats or doubles.
#pragma once

#include <cstdint>
#include <vector>

namespace lowbit {

class HessianAccumulator {
 public:
  enum class Precision { Float, Double };

  // Throws Error when in ≤ 0 or in² elements would not fit.
  explicit HessianAccumulator(int64_t in, Precision precision = Precision::Double);

  // Adds rows calibration inputs X (rows × in, row-major). Throws Error naming the row and
  // column of a NaN or infinite element (nothing is added then).
  void add(const float* X, int64_t rows);

  int64_t in() const { return in_; }
  int64_t samples() const { return n_; }

  // H = (2/n) Σ x xᵀ, in × in row-major, both triangles filled. Throws Error when no rows
  // were added. Accumulation may continue afterwards.
  std::vector<float> finalize() const;
  // H's diagonal, H_jj = (2/n) Σ_t x_tj² (throws like finalize).
  std::vector<float> diag() const;
  // llama.cpp's imatrix entry: (1/n) Σ_t x_tj² = H_jj / 2 (throws like finalize).
  std::vector<float> importance() const;

 private:
  double sum_sq(int64_t j) const;

  int64_t in_ = 0;
  int64_t n_ = 0;
  Precision precision_;
  std::vector<float> sf_;   // Σ x xᵀ, lower triangle (i ≥ j) row-major (Precision::Float)
  std::vector<double> sd_;  // the same in double (Precision::Double)
};

}  // namespace lowbit
