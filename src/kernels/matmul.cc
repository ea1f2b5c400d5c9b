#include "kernels/matmul.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>

#include "kernels/vec_f32.h"

extern "C" void openblas_set_num_threads(int);

namespace lowbit {
namespace {

// OpenBLAS's own thread pool fights OpenMP's for the same cores (both spin), which made
// small matrices 10x slower. lowbit owns the threading: OpenBLAS runs single-threaded, each
// OpenMP thread multiplies its own slice of output rows.
struct BlasSingleThreaded {
  BlasSingleThreaded() { openblas_set_num_threads(1); }
};

// Work below this many multiply-adds runs on one thread (thread start-up would dominate).
constexpr int64_t kParallelMin = 1 << 16;

}  // namespace

void matmul_f32(const float* W, int64_t in, int64_t out, const float* X, int64_t T, float* Y) {
  static BlasSingleThreaded once;
  const int64_t work = in * out * T;
  const int threads = work < kParallelMin ? 1 : std::min<int64_t>(omp_get_max_threads(), std::max<int64_t>(1, out / 16));
  if (T == 1) {
    const auto dot = vec_f32().dot;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t o = 0; o < out; ++o) Y[o] = dot(W + o * in, X, in);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int nt = omp_get_num_threads(), id = omp_get_thread_num();
    // Row slices rounded to 16 so each thread's sgemm keeps whole register tiles.
    const int64_t per = (out + nt - 1) / nt;
    const int64_t chunk = (per + 15) / 16 * 16;
    const int64_t o0 = std::min<int64_t>(out, id * chunk), o1 = std::min<int64_t>(out, o0 + chunk);
    if (o1 > o0)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(T), static_cast<int>(o1 - o0),
                  static_cast<int>(in), 1.0f, X, static_cast<int>(in), W + o0 * in, static_cast<int>(in), 0.0f,
                  Y + o0, static_cast<int>(out));
  }
}

void matmul_f32__ref(const float* W, int64_t in, int64_t out, const float* X, int64_t T, float* Y) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t o = 0; o < out; ++o) {
      double s = 0;
      for (int64_t i = 0; i < in; ++i) s += static_cast<double>(W[o * in + i]) * X[t * in + i];
      Y[t * out + o] = static_cast<float>(s);
    }
}

}  // namespace lowbit
