#include "eval/bench.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>

#include "core/error.h"
#include "core/progress.h"
#include "model/llama.h"

namespace lowbit {
namespace {

using Clock = std::chrono::steady_clock;

SpeedStat stats(std::vector<double> samples) {
  SpeedStat s;
  s.samples = std::move(samples);
  const size_t n = s.samples.size();
  if (!n) return s;
  for (double x : s.samples) s.mean += x;
  s.mean /= n;
  if (n > 1) {
    double v = 0;
    for (double x : s.samples) v += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(v / (n - 1));
  }
  return s;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

BenchResult run_bench(const ModelFile& m, const BenchOptions& o) {
  if (o.n_prompt < 0 || o.n_gen < 0 || o.reps < 1) fail("bench: -p and -n must be >= 0 and -r >= 1");
  if (o.n_prompt == 0 && o.n_gen == 0) fail("bench: nothing to run (-p 0 and -n 0)");
  BenchResult r;
  r.n_prompt = o.n_prompt;
  r.n_gen = o.n_gen;
  r.reps = o.reps;
  r.threads = omp_get_max_threads();
  for (const auto& t : m.tensors) {
    r.n_params += t.n_elements();
    r.tensor_bytes += t.nbytes;
  }

  const int n_ctx = std::max(o.n_prompt, 1 + o.n_gen);
  LlamaModel model(m, n_ctx);
  const ModelConfig& c = model.config();
  const LlamaWeights& w = model.weights();
  r.weight_bytes_per_token = w.matrix_bytes() + w.token_embd.row_bytes;
  std::map<std::string, uint64_t> by_type;
  auto count = [&](const QMatrix& q) { by_type[std::string(ggml_type_name(q.type))] += q.row_bytes * q.out; };
  count(w.token_embd);
  if (w.output.data != w.token_embd.data) count(w.output);
  for (const auto& L : w.layers)
    for (const QMatrix* q : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) count(*q);
  r.matrix_types.assign(by_type.begin(), by_type.end());
  std::stable_sort(r.matrix_types.begin(), r.matrix_types.end(), [](auto& a, auto& b) { return a.second > b.second; });
  // Token at position p attends to p + 1 cached positions; timed positions are 1..n_gen.
  const double kv_per_pos = 2.0 * c.n_layers * c.kv_dim() * sizeof(float);
  r.kv_bytes_per_token = o.n_gen ? kv_per_pos * (o.n_gen + 3) / 2.0 : 0;

  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int32_t> any_token(0, c.vocab_size - 1);
  const int32_t bos = m.has_vocab && m.vocab.bos >= 0 && m.vocab.bos < c.vocab_size ? m.vocab.bos : 0;
  std::vector<float> logits;
  std::vector<int32_t> prompt(o.n_prompt);

  // Warm-up: a short batch and one decode step touch every weight page and size the scratch.
  {
    std::vector<int32_t> warm(std::max(1, std::min({o.n_prompt, 32, n_ctx - 1})));
    for (auto& t : warm) t = any_token(rng);
    model.reset();
    model.eval(warm, false, logits);
    const int32_t one[1] = {any_token(rng)};
    model.eval(one, false, logits);
  }

  Progress bar("bench", static_cast<uint64_t>(o.reps) * ((o.n_prompt > 0) + (o.n_gen > 0)), o.progress);
  std::vector<double> pp, tg;
  for (int rep = 0; rep < o.reps; ++rep) {
    if (o.n_prompt > 0) {
      for (auto& t : prompt) t = any_token(rng);
      model.reset();
      const auto t0 = Clock::now();
      model.eval(prompt, false, logits);
      pp.push_back(o.n_prompt / seconds_since(t0));
      bar.add();
    }
    if (o.n_gen > 0) {
      model.reset();
      const int32_t first[1] = {bos};
      model.eval(first, false, logits);
      const auto t0 = Clock::now();
      for (int i = 0; i < o.n_gen; ++i) {
        const int32_t one[1] = {any_token(rng)};
        model.eval(one, false, logits);
      }
      tg.push_back(o.n_gen / seconds_since(t0));
      bar.add();
    }
  }
  bar.finish();
  r.pp = stats(std::move(pp));
  r.tg = stats(std::move(tg));
  return r;
}

double decode_roofline_tps(const BenchResult& r, double bandwidth) {
  const double b = r.bytes_per_token();
  return bandwidth > 0 && b > 0 ? bandwidth / b : 0;
}

}  // namespace lowbit
