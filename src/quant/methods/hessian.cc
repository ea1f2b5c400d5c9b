#include "quant/methods/hessian.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace lowbit {
namespace {

// lowbit runs OpenBLAS single-threaded inside its own OpenMP slices (kernels/matmul.cc); one
// big syrk outside any OpenMP region gets every core for its duration instead.
class ScopedBlasThreads {
 public:
  explicit ScopedBlasThreads(int n) : prev_(openblas_get_num_threads()) { openblas_set_num_threads(n); }
  ~ScopedBlasThreads() { openblas_set_num_threads(prev_); }
  ScopedBlasThreads(const ScopedBlasThreads&) = delete;
  ScopedBlasThreads& operator=(const ScopedBlasThreads&) = delete;

 private:
  int prev_;
};

// Rows per syrk call in double precision (the converted copy of X is kChunk × in doubles).
constexpr int64_t kChunk = 256;

}  // namespace

HessianAccumulator::HessianAccumulator(int64_t in, Precision precision) : in_(in), precision_(precision) {
  uint64_t n2 = 0;
  if (in <= 0 || mul_overflows(static_cast<uint64_t>(in), static_cast<uint64_t>(in), &n2) || n2 > (uint64_t{1} << 40))
    fail("hessian: input dimension {} is not positive or too large for an in x in matrix", in);
  if (precision_ == Precision::Float) {
    sf_.assign(n2, 0.0f);
  } else {
    sd_.assign(n2, 0.0);
  }
}

void HessianAccumulator::add(const float* X, int64_t rows) {
  if (rows < 0) fail("hessian: negative row count {}", rows);
  if (rows == 0) return;
  if (!X) fail("hessian: null input for {} rows", rows);
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t j = 0; j < in_; ++j)
      if (!std::isfinite(X[t * in_ + j]))
        fail("hessian: calibration input row {} (of this batch), column {}: non-finite value {}", t, j, X[t * in_ + j]);

  ScopedBlasThreads threads(omp_get_max_threads());
  const int n = static_cast<int>(in_);
  // S += Xᵀ X into the lower triangle (row-major, i ≥ j): a rank-k update (GPTQ §4,
  // "H = 2 X Xᵀ" accumulated over calibration batches).
  if (precision_ == Precision::Float) {
    for (int64_t t0 = 0; t0 < rows; t0 += kChunk * 16) {
      const int k = static_cast<int>(std::min<int64_t>(kChunk * 16, rows - t0));
      cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, n, k, 1.0f, X + t0 * in_, n, 1.0f, sf_.data(), n);
    }
  } else {
    std::vector<double> xd(static_cast<size_t>(std::min(rows, kChunk) * in_));
    for (int64_t t0 = 0; t0 < rows; t0 += kChunk) {
      const int64_t k = std::min(kChunk, rows - t0);
      for (int64_t i = 0; i < k * in_; ++i) xd[static_cast<size_t>(i)] = X[t0 * in_ + i];
      cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, n, static_cast<int>(k), 1.0, xd.data(), n, 1.0, sd_.data(), n);
    }
  }
  n_ += rows;
}

double HessianAccumulator::sum_sq(int64_t j) const {
  const size_t i = static_cast<size_t>(j * in_ + j);
  return precision_ == Precision::Float ? sf_[i] : sd_[i];
}

std::vector<float> HessianAccumulator::finalize() const {
  if (n_ == 0) fail("hessian: no calibration rows were added (H = 2/n sum x x^T needs n > 0)");
  const double scale = 2.0 / static_cast<double>(n_);
  std::vector<float> H(static_cast<size_t>(in_ * in_));
  for (int64_t i = 0; i < in_; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      const size_t k = static_cast<size_t>(i * in_ + j);
      const double s = precision_ == Precision::Float ? sf_[k] : sd_[k];
      const float v = static_cast<float>(scale * s);
      H[k] = v;
      H[static_cast<size_t>(j * in_ + i)] = v;
    }
  return H;
}

std::vector<float> HessianAccumulator::diag() const {
  if (n_ == 0) fail("hessian: no calibration rows were added (H = 2/n sum x x^T needs n > 0)");
  const double scale = 2.0 / static_cast<double>(n_);  // as finalize(), so diag() is finalize()'s diagonal exactly
  std::vector<float> d(static_cast<size_t>(in_));
  for (int64_t j = 0; j < in_; ++j) d[static_cast<size_t>(j)] = static_cast<float>(scale * sum_sq(j));
  return d;
}

std::vector<float> HessianAccumulator::importance() const {
  std::vector<float> d = diag();
  for (float& v : d) v *= 0.5f;  // H_jj / 2 = (1/n) sum x_j^2, exact halving
  return d;
}

}  // namespace lowbit
