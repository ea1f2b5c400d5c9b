#include "calib/observers.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"

namespace lowbit {

namespace {

struct NamedKind {
  ObserverKind kind;
  const char* name;
};
constexpr NamedKind kKinds[] = {
    {ObserverKind::MinMax, "minmax"},
    {ObserverKind::MovingAverageMinMax, "ema"},
    {ObserverKind::Percentile, "percentile"},
    {ObserverKind::Mse, "mse"},
    {ObserverKind::Entropy, "entropy"},
};

// One past the last non-empty bin (0 when the histogram is empty).
size_t top_bin(const std::vector<uint64_t>& h) {
  size_t top = h.size();
  while (top > 0 && h[top - 1] == 0) --top;
  return top;
}

void check_bits(int bits, const char* who) {
  if (bits < 2 || bits > 16) fail("{} observer: {} bits (supported: 2..16)", who, bits);
}

// ---- Percentile ---------------------------------------------------------------------------

// The p-th percentile of |x|: the bin where the cumulative count reaches p% of the total,
// with linear interpolation inside it (values are taken as uniform within a bin).
double percentile_threshold(const AbsHistogram& h, double p) {
  if (!(p > 0 && p <= 100)) fail("percentile observer: percentile {} (need 0 < p <= 100)", p);
  if (h.range() == 0 || p == 100) return h.max_seen();
  const auto& c = h.counts();
  const double target = p / 100.0 * static_cast<double>(h.total());
  double cum = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    if (!c[i]) continue;
    const double next = cum + static_cast<double>(c[i]);
    if (next >= target) {
      const double t = (static_cast<double>(i) + (target - cum) / static_cast<double>(c[i])) * h.bin_width();
      return std::min(t, h.max_seen());
    }
    cum = next;
  }
  return h.max_seen();
}

// ---- MSE ----------------------------------------------------------------------------------

// Expected squared error of quantizing |x| to the symmetric grid {k * s : |k| <= q} clipped at
// t = q * s, when the histogram's values are uniform within each bin. Rounding error inside
// [0, t] is integrated exactly against the grid (it tends to s^2 / 12 when a bin spans many
// steps, and is smaller for bins near zero, which the grid's zero represents exactly);
// values beyond t cost (x - t)^2.
class MseModel {
 public:
  MseModel(const AbsHistogram& h, int q) : h_(h), q_(q) {}

  double error(double t) const {
    const double s = t / q_;
    const double w = h_.bin_width();
    const auto& c = h_.counts();
    double err = 0;
    for (size_t b = 0; b < c.size(); ++b) {
      if (!c[b]) continue;
      const double a = b * w, e = a + w;
      double integral;   // ∫_a^e err(x) dx
      if (e <= t) {
        integral = saw(e, s) - saw(a, s);
      } else if (a >= t) {
        integral = (cube(e - t) - cube(a - t)) / 3;
      } else {
        integral = saw(t, s) - saw(a, s) + cube(e - t) / 3;
      }
      err += static_cast<double>(c[b]) * integral / w;
    }
    return err / static_cast<double>(h_.total());
  }

 private:
  static double cube(double v) { return v * v * v; }
  // ∫_0^x d(u)^2 du where d(u) is the distance from u to the nearest multiple of s.
  // One period contributes s^3/12; within a period [0, s) the integral is r^3/3 up to s/2
  // and s^3/12 + (r - s)^3/3 after it.
  static double saw(double x, double s) {
    const double n = std::floor(x / s);
    const double r = x - n * s;
    const double part = r <= s / 2 ? cube(r) / 3 : cube(s) / 12 + cube(r - s) / 3;
    return n * cube(s) / 12 + part;
  }
  const AbsHistogram& h_;
  const int q_;
};

// Candidates: every bin edge below the largest value seen, and that value itself; the lowest
// expected error wins (ties keep the larger threshold). Searching all the way down (rather
// than to 1/8 of the range) matters at low bit widths with rare far outliers, where the best
// threshold sits at the tail of the bulk, far below the outliers.
double mse_threshold(const AbsHistogram& h, int bits) {
  check_bits(bits, "mse");
  if (h.range() == 0) return 0;
  const int q = (1 << (bits - 1)) - 1;
  const MseModel model(h, q);
  const size_t top = top_bin(h.counts());
  const double w = h.bin_width();
  double best_t = h.max_seen(), best = model.error(best_t);
  for (size_t j = top; j >= 1; --j) {
    const double t = j * w;
    if (t >= h.max_seen()) continue;   // no better than max_seen itself
    const double err = model.error(t);
    if (err < best) {
      best = err;
      best_t = t;
    }
  }
  return best_t;
}

// ---- Entropy (TensorRT) -------------------------------------------------------------------

// S. Migacz, "8-bit Inference with TensorRT" (GTC 2017), the calibration loop, with levels =
// 2^(bits-1) (128 for int8) and the bin grouping of MXNet's port of it
// (contrib/quantization.py, _get_optimal_threshold):
//   for i in [levels, top]:                 (top: one past the last non-empty bin)
//     P = hist[0:i], P[i-1] += sum(hist[i:])                 reference, outliers folded in
//     Q = hist[0:i] merged into `levels` groups of i/levels bins (the last takes the rest),
//         each group's count spread evenly over the bins where P is non-zero
//     divergence[i] = KL(P/|P| || Q/|Q|)
//   threshold = (argmin_i + 0.5) * bin_width
// Q is smoothed additively (q + eps)/(1 + i*eps), eps = 1e-4/i, so that P mass where Q has
// none (outliers folded into an otherwise empty last bin) costs a large but finite amount.
// The threshold is capped at the largest value seen. Ties keep the smaller threshold.
double entropy_threshold(const AbsHistogram& h, int bits) {
  check_bits(bits, "entropy");
  if (h.range() == 0) return 0;
  const auto& hist = h.counts();
  const size_t levels = size_t{1} << (bits - 1);
  const size_t top = top_bin(hist);
  if (top <= levels) return h.max_seen();   // every non-empty bin gets its own level
  std::vector<double> suffix(top + 1, 0);   // suffix[i] = sum(hist[i:top])
  for (size_t i = top; i-- > 0;) suffix[i] = suffix[i + 1] + static_cast<double>(hist[i]);

  std::vector<double> P(top), Q(top);
  double best = std::numeric_limits<double>::infinity();
  size_t best_i = top;
  for (size_t i = levels; i <= top; ++i) {
    for (size_t k = 0; k < i; ++k) P[k] = static_cast<double>(hist[k]);
    P[i - 1] += suffix[i];
    const size_t merged = i / levels;
    double q_sum = 0;
    for (size_t j = 0; j < levels; ++j) {
      const size_t start = j * merged, stop = j + 1 == levels ? i : start + merged;
      double sum = 0;
      size_t nonzero = 0;
      for (size_t k = start; k < stop; ++k) {
        sum += static_cast<double>(hist[k]);
        nonzero += P[k] != 0;
      }
      const double share = nonzero ? sum / static_cast<double>(nonzero) : 0;
      for (size_t k = start; k < stop; ++k) Q[k] = P[k] != 0 ? share : 0;
      q_sum += nonzero ? sum : 0;
    }
    if (q_sum == 0) continue;   // everything is an outlier: no candidate
    const double p_sum = suffix[0];
    const double eps = 1e-4 / static_cast<double>(i);
    const double q_norm = 1 + static_cast<double>(i) * eps;
    double kl = 0;
    for (size_t k = 0; k < i; ++k) {
      if (P[k] == 0) continue;
      const double p = P[k] / p_sum;
      const double q = (Q[k] / q_sum + eps) / q_norm;
      kl += p * std::log(p / q);
    }
    if (kl < best) {
      best = kl;
      best_i = i;
    }
  }
  return std::min((static_cast<double>(best_i) + 0.5) * h.bin_width(), h.max_seen());
}

Range symmetric(double t) {
  const float hi = static_cast<float>(t);
  return {-hi, hi};
}

}  // namespace

const char* observer_name(ObserverKind k) {
  for (const auto& nk : kKinds)
    if (nk.kind == k) return nk.name;
  return "invalid";
}

bool observer_from_name(const std::string& name, ObserverKind* out) {
  for (const auto& nk : kKinds) {
    if (name == nk.name) {
      *out = nk.kind;
      return true;
    }
  }
  return false;
}

void ObserverState::observe(const float* x, size_t n, double ema_c) {
  if (!(ema_c > 0 && ema_c <= 1)) fail("observer: moving-average constant {} (need 0 < c <= 1)", ema_c);
  if (n == 0) return;
  hist.add(x, n);   // throws on a non-finite value before anything changes
  double lo = x[0], hi = x[0];
  for (size_t i = 1; i < n; ++i) {
    lo = std::min(lo, static_cast<double>(x[i]));
    hi = std::max(hi, static_cast<double>(x[i]));
  }
  if (!seen) {
    min = ema_min = lo;
    max = ema_max = hi;
    seen = true;
  } else {
    min = std::min(min, lo);
    max = std::max(max, hi);
    // PyTorch's MovingAverageMinMaxObserver: v += c * (batch_v - v).
    ema_min += ema_c * (lo - ema_min);
    ema_max += ema_c * (hi - ema_max);
  }
  count += n;
}

Range observer_range(ObserverKind kind, const ObserverState& s, const ObserverOptions& o) {
  if (!s.seen) return {};
  switch (kind) {
    case ObserverKind::MinMax: return {static_cast<float>(s.min), static_cast<float>(s.max)};
    case ObserverKind::MovingAverageMinMax: return {static_cast<float>(s.ema_min), static_cast<float>(s.ema_max)};
    case ObserverKind::Percentile: return symmetric(percentile_threshold(s.hist, o.percentile));
    case ObserverKind::Mse: return symmetric(mse_threshold(s.hist, o.bits));
    case ObserverKind::Entropy: return symmetric(entropy_threshold(s.hist, o.bits));
  }
  fail("observer_range: invalid observer kind {}", static_cast<int>(kind));
}

}  // namespace lowbit
