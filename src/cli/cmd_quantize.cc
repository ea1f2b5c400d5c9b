// lowbit quantize IN OUT.gguf --type Q4_K_M [--tensor-type PATTERN=TYPE ...]
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/quantize_hf_gptq.h"
#include "core/error.h"
#include "quant/pipeline/mix.h"
#include "quant/pipeline/quantize_model.h"

namespace lowbit::cli {

int cmd_quantize(int argc, char** argv) {
  std::string presets;
  for (const auto& m : mix_presets()) presets += fmt::format("  {:<8} {}\n", m.name, m.summary);
  CLI::App app{"Quantize a model (llama2.c, Hugging Face directory or GGUF) to a GGUF file in llama.cpp's\n"
               "block formats, with llama.cpp's named mixes. Prints each tensor's type and size, the\n"
               "whole model's bits per weight and the time. Written atomically.\n\nTypes:\n" + presets,
               "quantize"};
  std::string in, out, type_name = "Q4_K_M", tokenizer;
  std::vector<std::string> overrides;
  bool json = false, quiet = false, qo_pure = false;
  int threads = 0;
  app.add_option("IN", in, "input model")->required();
  app.add_option("OUT", out, "output .gguf path (a folder with --format hf-gptq)")->required();
  app.add_option("--type,-t", type_name, "mix (see Types)")->capture_default_str();
  app.add_option("--tensor-type", overrides,
                 "PATTERN=TYPE: tensors whose name matches the regex PATTERN get TYPE (repeatable; a pattern "
                 "that matches nothing is an error)");
  app.add_option("--tokenizer", tokenizer, "llama2.c tokenizer.bin (default: found beside the model)");
  app.add_option("--threads", threads, "threads (0 = all cores)");
  std::string method = "rtn";
  QuantizeOptions qo;
  app.add_option("--method,-m", method, "rtn | imatrix | gptq | awq | awq+gptq | smoothquant")->capture_default_str();
  app.add_option("--imatrix", qo.imatrix_file, "importance matrix file (llama.cpp .gguf or .dat) for rtn/imatrix");
  app.add_option("--calib", qo.calib_files, "calibration text file(s) for imatrix / gptq / awq / smoothquant");
  app.add_option("--n-seq", qo.calib_n_seq, "calibration sequences")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  app.add_option("--seq-len", qo.calib_seq_len, "tokens per calibration sequence")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  app.add_option("--seed", qo.calib_seed, "seed for the calibration windows")->capture_default_str();
  app.add_option("--gptq-damp", qo.gptq_damp, "GPTQ dampening (fraction of mean diag H)")->capture_default_str()->check(CLI::Range(0.0, 10.0));
  app.add_option("--gptq-act-order", qo.gptq_act_order, "GPTQ: process columns by descending Hessian diagonal (static groups)")->capture_default_str();
  app.add_option("--awq-clip", qo.awq_clip, "AWQ: also search weight clipping (awq+gptq: off unless given)")->capture_default_str();
  std::string w8a8, observer = "minmax";
  app.add_option("--w8a8", w8a8, "smoothquant: int8 weights and activations (dynamic | static), a lowbit-only file");
  app.add_option("--smooth-alpha", qo.smooth_alpha, "SmoothQuant migration strength")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--act-observer", observer, "--w8a8 static: range observer (minmax | ema | percentile | mse | entropy)")->capture_default_str();
  app.add_flag("--pure", qo_pure, "no per-role rules: every matrix gets the mix's base type (fallbacks still apply)");
  app.add_flag("--quiet,-q", quiet, "print only the totals");
  app.add_flag("--json", json, "machine-readable report");
  HfGptqFlags hf;   // --format hf-gptq and its flags (quantize_hf_gptq.h)
  hf.add_to(app);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  set_threads(threads);
  hf.check(app);

  OpenOptions oo;
  oo.tokenizer = tokenizer;
  const ModelFile m = open_model(in, oo);
  if (method == "imatrix" && qo.imatrix_file.empty() && qo.calib_files.empty())
    fail("--method imatrix needs --imatrix FILE or --calib TEXT");
  if (!quant_method_from_name(method, &qo.method)) fail("--method '{}' is not one of rtn, imatrix, gptq, awq, awq+gptq, smoothquant", method);
  if (qo.method == QuantMethod::AwqGptq && !app.count("--awq-clip")) qo.awq_clip = false;   // GPTQ would target clipped weights
  if (!w8a8.empty() && !w8a8_mode_from_name(w8a8, &qo.w8a8)) fail("--w8a8 '{}' is not one of dynamic, static", w8a8);
  if (!observer_from_name(observer, &qo.act_observer)) fail("--act-observer '{}' is not one of minmax, ema, percentile, mse, entropy", observer);
  if (!qo.imatrix_file.empty() && qo.method == QuantMethod::Rtn) qo.method = QuantMethod::Imatrix;
  if (hf.hf_gptq()) return quantize_hf_gptq(m, out, qo, hf, json, quiet);
  qo.mix = type_name;
  qo.overrides = overrides;
  qo.pure = qo_pure;
  qo.progress = !json;
  const QuantizeReport r = quantize_model(m, out, qo);
  if (json) {
    nlohmann::json j{{"input", m.path},     {"output", out},          {"mix", r.mix},
                     {"method", r.method},  {"n_params", r.n_params}, {"bytes", r.bytes},
                     {"bits_per_weight", r.bits_per_weight}, {"seconds", r.seconds},
                     {"peak_rss_bytes", r.peak_rss_bytes}};
    j["tensors"] = nlohmann::json::array();
    for (const auto& t : r.tensors)
      j["tensors"].push_back({{"name", t.name}, {"type", ggml_type_name(t.type)}, {"shape", t.ne},
                              {"bytes", t.bytes}, {"note", t.reason}});
    print_json(j);
    return 0;
  }
  if (!quiet) {
    for (const auto& t : r.tensors) {
      std::string shape;
      for (auto d : t.ne) shape += (shape.empty() ? "" : " x ") + std::to_string(d);
      std::printf("  %-28s %-7s [%s] %10s%s%s\n", t.name.c_str(), std::string(ggml_type_name(t.type)).c_str(),
                  shape.c_str(), human_bytes(static_cast<double>(t.bytes)).c_str(), t.reason.empty() ? "" : "  <- ",
                  t.reason.c_str());
    }
  }
  std::printf("%s -> %s (%s, %s): %llu params, %s, %.3f bits per weight, %.2f s, peak RSS %s\n", m.path.c_str(),
              out.c_str(), r.mix.c_str(), r.method.c_str(), static_cast<unsigned long long>(r.n_params),
              human_bytes(static_cast<double>(r.bytes)).c_str(), r.bits_per_weight, r.seconds,
              human_bytes(static_cast<double>(r.peak_rss_bytes)).c_str());
  return 0;
}

}  // namespace lowbit::cli
