// GPTQ's Hessian preparation, inverse Cholesky factor and lazy-batch loop (gptq.h).
#include "quant/methods/gptq.h"

#include <cblas.h>
#include <lapacke.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "quant/methods/gptq_internal.h"

namespace lowbit {
namespace {

// lowbit runs OpenBLAS single-threaded inside its own OpenMP slices (kernels/matmul.cc); the
// LAPACK factorizations, outside any OpenMP region, get every core for their duration.
class ScopedBlasThreads {
 public:
  explicit ScopedBlasThreads(int n) : prev_(openblas_get_num_threads()) { openblas_set_num_threads(n); }
  ~ScopedBlasThreads() { openblas_set_num_threads(prev_); }
  ScopedBlasThreads(const ScopedBlasThreads&) = delete;
  ScopedBlasThreads& operator=(const ScopedBlasThreads&) = delete;

 private:
  int prev_;
};

// The upper factor U of (H_p + damp·I)⁻¹ = UᵀU, H_p = H with rows and columns in the order
// perm (H_p[i][j] = H[perm[i]][perm[j]], from H's lower triangle) and dead diagonals set to 1.
//
// The reference (gptq.py) runs chol(H) → cholesky_inverse → chol(·, upper). One factorization
// gives the same U (GPTQ §4 Step 3 only needs U): with P the reversal permutation, factor
// P H_p P = L̃ L̃ᵀ; then H_p⁻¹ = P L̃⁻ᵀ L̃⁻¹ P = (P L̃⁻¹ P)ᵀ (P L̃⁻¹ P), and P L̃⁻¹ P is upper
// triangular with a positive diagonal, hence the unique Cholesky factor U.
bool inverse_factor(const float* H, int64_t n, const int32_t* perm, const uint8_t* dead, double damp, float* U) {
  // B = P H_p P + damp·I, symmetric, so row-major and column-major read the same; LAPACK's
  // column-major lower triangle (i ≥ j at B[j·n + i]) is the row-major upper triangle.
  std::vector<double> B(static_cast<size_t>(n * n));
  auto h = [&](int64_t a, int64_t b) -> double {  // H[a][b] from the lower triangle
    return a >= b ? H[a * n + b] : H[b * n + a];
  };
  for (int64_t r = 0; r < n; ++r) {
    const int64_t a = perm[n - 1 - r];
    double* row = B.data() + r * n;
    for (int64_t c = r; c < n; ++c) row[c] = h(a, perm[n - 1 - c]);
    if (dead[a]) row[r] = 1.0;  // reference: H[dead, dead] = 1
    row[r] += damp;
  }
  const lapack_int ln = static_cast<lapack_int>(n);
  {
    ScopedBlasThreads threads(omp_get_max_threads());
    if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', ln, B.data(), ln) != 0) return false;  // L̃
    if (LAPACKE_dtrtri(LAPACK_COL_MAJOR, 'L', 'N', ln, B.data(), ln) != 0) return false;  // L̃⁻¹
  }
  // U[i][j] = L̃⁻¹[n−1−i][n−1−j] (j ≥ i), stored column-major at B[(n−1−j)·n + (n−1−i)].
  // Tiled so that both the strided reads and the row writes stay in cache.
  constexpr int64_t kTile = 64;
  for (int64_t i0 = 0; i0 < n; i0 += kTile)
    for (int64_t j0 = 0; j0 < n; j0 += kTile)
      for (int64_t i = i0; i < std::min(n, i0 + kTile); ++i)
        for (int64_t j = j0; j < std::min(n, j0 + kTile); ++j)
          U[i * n + j] = j >= i ? static_cast<float>(B[static_cast<size_t>((n - 1 - j) * n + (n - 1 - i))]) : 0.0f;
  return true;
}

}  // namespace

bool gptq_inverse_factor(const float* H, int64_t n, double damp, float* U) {
  if (n <= 0) fail("gptq_inverse_factor: size {} is not positive", n);
  std::vector<int32_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  std::vector<uint8_t> dead(static_cast<size_t>(n), 0);
  return inverse_factor(H, n, perm.data(), dead.data(), damp, U);
}

double gptq_run(float* W, int64_t rows, int64_t cols, const float* U, GptqColumnQuantizer& quantizer,
                int64_t block_size) {
  if (rows < 0 || cols < 0) fail("gptq_run: negative shape {} x {}", rows, cols);
  if (block_size <= 0) fail("gptq_run: block size {} is not positive", block_size);
  const int64_t span = quantizer.span();
  if (span <= 0) fail("gptq_run: quantizer span {} is not positive", span);
  if (rows == 0 || cols == 0) return 0.0;
  // B: whole spans, so a group or GGUF block never straddles two lazy blocks (gptq.h).
  const int64_t B = (block_size + span - 1) / span * span;
  std::vector<float> err(static_cast<size_t>(rows * std::min(B, cols)));
  std::vector<double> row_err(static_cast<size_t>(rows), 0.0);
  const bool parallel = rows * cols >= gptq_detail::kParallelMinElements && rows > 1;
  ScopedBlasThreads one(1);  // each OpenMP thread's sgemm on its own rows

  for (int64_t i1 = 0; i1 < cols; i1 += B) {
    const int64_t i2 = std::min(i1 + B, cols), nb = i2 - i1, rest = cols - i2;
    int bad = 0;
#pragma omp parallel if (parallel) reduction(| : bad)
    {
      const int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
      // Row slices rounded to 16 so each thread's sgemm keeps whole register tiles.
      const int64_t per = ((rows + nt - 1) / nt + 15) / 16 * 16;
      const int64_t r0 = std::min(rows, id * per), r1 = std::min(rows, r0 + per);
      for (int64_t r = r0; r < r1; ++r) {
        float* __restrict w = W + r * cols;
        float* __restrict e = err.data() + r * nb;
        double acc = 0.0;
        for (int64_t i = i1; i < i2; ++i) {
          // Algorithm 1: q = quant(w_i); E_{:, i−i1} = (w_i − q) / [H⁻¹]ᶜ_ii (U_ii, the
          // Cholesky diagonal: eq. 3's [H_F⁻¹]_qq under the square root of §4 Step 3).
          const float q = quantizer.quantize(r, i, w);
          const float ei = (w[i] - q) / U[i * cols + i];
          w[i] = q;
          e[i - i1] = ei;
          acc += static_cast<double>(ei) * ei;
          // W_{:, i+1:i2} −= E_{:, i−i1} · U_{i, i+1:i2}: the OBS update (eq. 2) restricted
          // to the block; the columns past the block wait for the lazy batch update below.
          const float* __restrict u = U + i * cols;
          for (int64_t k = i + 1; k < i2; ++k) w[k] -= ei * u[k];
        }
        row_err[static_cast<size_t>(r)] += acc;
        if (!std::isfinite(acc)) bad = 1;
      }
      // Lazy batch update (§4 Step 2): W_{:, i2:} −= E · U_{i1:i2, i2:}, one sgemm per slice.
      if (rest > 0 && r1 > r0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(r1 - r0), static_cast<int>(rest),
                    static_cast<int>(nb), -1.0f, err.data() + r0 * nb, static_cast<int>(nb), U + i1 * cols + i2,
                    static_cast<int>(cols), 1.0f, W + r0 * cols + i2, static_cast<int>(cols));
    }
    if (bad) {
      int64_t r = 0;
      while (r < rows && std::isfinite(row_err[static_cast<size_t>(r)])) ++r;
      fail("gptq: the quantization error became non-finite in row {} within columns {}..{} (processing order): "
           "the Hessian is too ill-conditioned for float arithmetic; raise percdamp",
           r, i1, i2 - 1);
    }
  }
  double total = 0.0;
  for (double e : row_err) total += e;  // in row order: independent of the thread count
  return total;
}

namespace gptq_detail {

Prepared prepare(const float* W, int64_t rows, int64_t cols, const float* H, const GptqOptions& options,
                 const char* what) {
  if (rows <= 0 || cols <= 0) fail("{}: weight shape {} x {} is empty or negative", what, rows, cols);
  uint64_t n = 0, n2 = 0;
  if (mul_overflows(static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), &n) || n > (uint64_t{1} << 40) ||
      mul_overflows(static_cast<uint64_t>(cols), static_cast<uint64_t>(cols), &n2) || n2 > (uint64_t{1} << 36))
    fail("{}: weight shape {} x {} is too large", what, rows, cols);
  if (!W || !H) fail("{}: null weights or Hessian", what);
  if (!(options.percdamp >= 0.0) || !std::isfinite(options.percdamp))
    fail("{}: percdamp = {} (must be finite and >= 0)", what, options.percdamp);
  if (!(options.max_percdamp >= options.percdamp) || !std::isfinite(options.max_percdamp))
    fail("{}: max_percdamp = {} is below percdamp = {} or not finite", what, options.max_percdamp, options.percdamp);
  if (options.block_size <= 0) fail("{}: block_size = {} (must be > 0)", what, options.block_size);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      if (!std::isfinite(W[r * cols + c])) fail("{}: W row {}, column {}: non-finite value {}", what, r, c, W[r * cols + c]);
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j <= i; ++j)
      if (!std::isfinite(H[i * cols + j])) fail("{}: Hessian row {}, column {}: non-finite value {}", what, i, j, H[i * cols + j]);

  Prepared p;
  std::vector<uint8_t> dead(static_cast<size_t>(cols), 0);
  std::vector<double> diag(static_cast<size_t>(cols));
  p.importance.resize(static_cast<size_t>(cols));
  for (int64_t i = 0; i < cols; ++i) {
    const float d = H[i * cols + i];
    if (d < 0.0f)
      fail("{}: Hessian diagonal {} is negative ({}): not a 2/n X X^T of real activations", what, i, d);
    dead[static_cast<size_t>(i)] = d == 0.0f;
    diag[static_cast<size_t>(i)] = d == 0.0f ? 1.0 : d;  // reference: H[dead, dead] = 1
    p.importance[static_cast<size_t>(i)] = 0.5f * d;
    p.report.dead_columns += d == 0.0f;
  }
  // Dead inputs: no calibration input touches column i, so its weights cannot matter to the
  // objective; the reference zeroes them (W[:, dead] = 0) so that they quantize exactly.
  p.W.assign(W, W + n);
  if (p.report.dead_columns > 0)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        if (dead[static_cast<size_t>(c)]) p.W[static_cast<size_t>(r * cols + c)] = 0.0f;

  // Act-order: descending H_ii (after the dead fix, as the reference). A stable sort keeps
  // equal columns in their original order, so the order is deterministic.
  p.report.perm.resize(static_cast<size_t>(cols));
  std::iota(p.report.perm.begin(), p.report.perm.end(), 0);
  if (options.act_order)
    std::stable_sort(p.report.perm.begin(), p.report.perm.end(),
                     [&](int32_t a, int32_t b) { return diag[static_cast<size_t>(a)] > diag[static_cast<size_t>(b)]; });

  // Dampening (§4, "Cholesky Reformulation"): λ = percdamp · mean(diag H), raised ×10 while
  // the factorization fails (rank-deficient H from fewer samples than inputs is the usual
  // cause: λI makes it positive definite).
  double mean = 0.0;
  for (double d : diag) mean += d;
  mean /= static_cast<double>(cols);
  p.U.resize(static_cast<size_t>(n2));
  double percdamp = options.percdamp;
  for (;;) {
    const double damp = percdamp * mean;
    if (inverse_factor(H, cols, p.report.perm.data(), dead.data(), damp, p.U.data())) {
      p.report.damp = damp;
      p.report.percdamp = percdamp;
      break;
    }
    const double next = percdamp > 0.0 ? percdamp * 10.0 : 0.01;
    if (next > options.max_percdamp * (1.0 + 1e-9))
      fail("{}: the {} x {} Hessian is not positive definite even with percdamp = {} (lambda = {}): "
           "H must be 2/n X^T X of the layer's calibration inputs (symmetric, positive semi-definite)",
           what, cols, cols, percdamp, damp);
    percdamp = next;
  }
  return p;
}

std::vector<float> to_processing_order(std::vector<float>&& in, int64_t rows, int64_t cols,
                                       const std::vector<int32_t>& perm) {
  bool identity = true;
  for (int64_t k = 0; k < cols && identity; ++k) identity = perm[static_cast<size_t>(k)] == k;
  if (identity) return std::move(in);
  std::vector<float> out(in.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k)
      out[static_cast<size_t>(r * cols + k)] = in[static_cast<size_t>(r * cols + perm[static_cast<size_t>(k)])];
  return out;
}

std::vector<float> to_original_order(std::vector<float>&& in, int64_t rows, int64_t cols,
                                     const std::vector<int32_t>& perm) {
  bool identity = true;
  for (int64_t k = 0; k < cols && identity; ++k) identity = perm[static_cast<size_t>(k)] == k;
  if (identity) return std::move(in);
  std::vector<float> out(in.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k)
      out[static_cast<size_t>(r * cols + perm[static_cast<size_t>(k)])] = in[static_cast<size_t>(r * cols + k)];
  return out;
}

}  // namespace gptq_detail
}  // namespace lowbit
