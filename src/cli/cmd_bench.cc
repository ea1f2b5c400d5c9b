// lowbit bench MODEL [-p 512] [-n 128] [-r 3]: llama-bench-style speed, and tg against the
// decode roofline (memory read bandwidth / bytes read per token).
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "eval/bandwidth.h"
#include "eval/bench.h"
#include "quant/pipeline/mix.h"

namespace lowbit::cli {
namespace {

// The named mix a file says it is (general.file_type), else its largest matrix type.
std::string type_mix(const ModelFile& m, const BenchResult& r) {
  for (const auto& [k, v] : m.kv)
    if (k == "general.file_type" && v.type != GgufType::STRING && v.type != GgufType::ARRAY)
      for (const auto& p : mix_presets())
        if (p.file_type == v.as_u64(k)) return p.name;
  return r.matrix_types.empty() ? "?" : r.matrix_types.front().first;
}

std::string model_name(const ModelFile& m) {
  if (!m.config.name.empty()) return m.config.name;
  return std::filesystem::path(m.path).filename().string();
}

std::string params_text(uint64_t n) {
  if (n >= 1000000000ull) return fmt::format("{:.2f} B", n / 1e9);
  if (n >= 1000000ull) return fmt::format("{:.2f} M", n / 1e6);
  return fmt::format("{:.2f} K", n / 1e3);
}

nlohmann::json speed_json(const SpeedStat& s) { return {{"mean", s.mean}, {"sd", s.sd}, {"samples", s.samples}}; }

}  // namespace

int cmd_bench(int argc, char** argv) {
  CLI::App app{"Measure speed as llama-bench does: pp<P> = P random tokens evaluated as one prompt from an\n"
               "empty cache; tg<N> = N single-token evaluations after a one-token prompt; each repeated R\n"
               "times after a warm-up, reported as tokens/s mean ± sd. Also measures the memory read\n"
               "bandwidth (multi-threaded streaming read of a buffer far larger than the last-level cache,\n"
               "best of 5) and prints tg as a fraction of the decode roofline: bandwidth / bytes read per\n"
               "token (all weight matrices in their stored types, one embedding row, and the f32 KV cache\n"
               "of the earlier positions, averaged over the tg positions).",
               "bench"};
  std::string path;
  BenchOptions bo;
  int threads = 0, bw_runs = 5;
  uint64_t bw_mib = 1024;
  double bw_given = 0;
  bool json = false;
  app.add_option("MODEL", path, "model file or Hugging Face directory")->required();
  app.add_option("-p,--n-prompt", bo.n_prompt, "prompt tokens for pp (0 = skip pp)")->capture_default_str()->check(CLI::Range(0, 1 << 16));
  app.add_option("-n,--n-gen", bo.n_gen, "tokens for tg (0 = skip tg)")->capture_default_str()->check(CLI::Range(0, 1 << 16));
  app.add_option("-r,--repetitions", bo.reps, "runs of each test")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--seed", bo.seed, "random seed for the token ids")->capture_default_str();
  app.add_option("--threads", threads, "threads (0 = all cores)");
  app.add_option("--bandwidth-mib", bw_mib, "bandwidth test buffer, MiB (should dwarf the last-level cache)")
      ->capture_default_str()->check(CLI::Range(1, 1 << 20));
  app.add_option("--bandwidth-runs", bw_runs, "bandwidth test runs (the best counts)")->capture_default_str()->check(CLI::Range(1, 100));
  app.add_option("--bandwidth", bw_given, "use this read bandwidth in GB/s instead of measuring it")->check(CLI::Range(0.0, 1e6));
  app.add_flag("--json", json, "machine-readable output");
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  set_threads(threads);
  bo.progress = !json;

  const ModelFile m = open_model(path);
  const BenchResult r = run_bench(m, bo);
  Bandwidth bw;
  if (bw_given > 0) {
    bw.bytes_per_second = bw.mean_bytes_per_second = bw_given * 1e9;
    bw.threads = r.threads;
  } else {
    BandwidthOptions bwo;
    bwo.buffer_bytes = bw_mib << 20;
    bwo.runs = bw_runs;
    bw = measure_read_bandwidth(bwo);
  }
  const double roof = decode_roofline_tps(r, bw.bytes_per_second);
  const double frac = roof > 0 && r.n_gen > 0 ? r.tg.mean / roof : 0;
  const std::string mix = type_mix(m, r), name = model_name(m);

  if (json) {
    nlohmann::json types = nlohmann::json::object();
    for (const auto& [t, b] : r.matrix_types) types[t] = b;
    nlohmann::json j{{"model", m.path}, {"name", name}, {"type_mix", mix}, {"matrix_type_bytes", types},
                     {"size_bytes", r.tensor_bytes}, {"n_params", r.n_params}, {"threads", r.threads},
                     {"n_prompt", r.n_prompt}, {"n_gen", r.n_gen}, {"reps", r.reps},
                     {"pp_mean", r.pp.mean}, {"pp_sd", r.pp.sd}, {"tg_mean", r.tg.mean}, {"tg_sd", r.tg.sd},
                     {"pp", speed_json(r.pp)}, {"tg", speed_json(r.tg)}};
    j["bandwidth"] = {{"bytes_per_second", bw.bytes_per_second}, {"mean_bytes_per_second", bw.mean_bytes_per_second},
                      {"buffer_bytes", bw.buffer_bytes}, {"llc_bytes", bw.llc_bytes}, {"runs", bw.runs},
                      {"threads", bw.threads}, {"measured", bw_given <= 0}};
    j["roofline"] = {{"weight_bytes_per_token", r.weight_bytes_per_token},
                     {"kv_bytes_per_token", r.kv_bytes_per_token}, {"bytes_per_token", r.bytes_per_token()},
                     {"tokens_per_second", roof}, {"tg_fraction", frac}};
    print_json(j);
    return 0;
  }

  std::printf("| %-24s | %10s | %8s | %-8s | %7s | %6s | %16s | %8s |\n", "model", "size", "params", "type", "threads",
              "test", "t/s", "roofline");
  std::printf("| %s | %s: | %s: | %s | %s: | %s: | %s: | %s: |\n", std::string(24, '-').c_str(),
              std::string(9, '-').c_str(), std::string(7, '-').c_str(), std::string(8, '-').c_str(),
              std::string(6, '-').c_str(), std::string(5, '-').c_str(), std::string(15, '-').c_str(),
              std::string(7, '-').c_str());
  auto row = [&](const std::string& test, const SpeedStat& s, const std::string& roofline) {
    std::printf("| %-24s | %10s | %8s | %-8s | %7d | %6s | %16s | %8s |\n", name.c_str(),
                human_bytes(static_cast<double>(r.tensor_bytes)).c_str(), params_text(r.n_params).c_str(),
                mix.c_str(), r.threads, test.c_str(), fmt::format("{:.2f} ± {:.2f}", s.mean, s.sd).c_str(),
                roofline.c_str());
  };
  if (r.n_prompt > 0) row(fmt::format("pp{}", r.n_prompt), r.pp, "");
  if (r.n_gen > 0) row(fmt::format("tg{}", r.n_gen), r.tg, roof > 0 ? fmt::format("{:.1f} %", 100 * frac) : "");
  std::printf("\n");
  if (bw_given > 0) std::printf("memory read bandwidth: %.2f GB/s (given)\n", bw.bytes_per_second / 1e9);
  else
    std::printf("memory read bandwidth: %.2f GB/s (best of %d reads of a %s buffer, %d threads; mean %.2f GB/s%s)\n",
                bw.bytes_per_second / 1e9, bw.runs, human_bytes(static_cast<double>(bw.buffer_bytes)).c_str(),
                bw.threads, bw.mean_bytes_per_second / 1e9,
                bw.llc_bytes ? fmt::format("; last-level cache {}", human_bytes(static_cast<double>(bw.llc_bytes))).c_str() : "");
  if (bw_given <= 0 && bw.llc_bytes && bw.buffer_bytes < 4 * bw.llc_bytes)
    std::printf("warning: the bandwidth buffer is under 4x the last-level cache; the figure may be a cache's\n");
  if (r.n_gen > 0)
    std::printf("decode reads %s/token: %s of weights + %s of KV cache (f32, mean over tg positions) -> roofline %.2f t/s\n",
                human_bytes(r.bytes_per_token()).c_str(),
                human_bytes(static_cast<double>(r.weight_bytes_per_token)).c_str(),
                human_bytes(r.kv_bytes_per_token).c_str(), roof);
  return 0;
}

}  // namespace lowbit::cli
