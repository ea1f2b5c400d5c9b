#include "cli/quantize_hf_gptq.h"

#include <cstdio>

#include "cli/common.h"
#include "core/error.h"

namespace lowbit::cli {

void HfGptqFlags::add_to(CLI::App& app) {
  app.add_option("--format", format,
                 "gguf | hf-gptq: a Hugging Face GPTQ directory (OUT is a folder; transformers, vLLM and AutoGPTQ load it; "
                 "--method rtn or gptq, --bits, --group-size, --sym/--asym)")
      ->capture_default_str();
  app.add_option("--bits", opts.bits, "hf-gptq: bits per weight (2, 3, 4, 8)")->capture_default_str();
  app.add_option("--group-size", opts.group_size, "hf-gptq: weights sharing one scale along the input; -1 = per channel")
      ->capture_default_str();
  app.add_flag("--sym", sym, "hf-gptq: symmetric, zero point 2^(bits-1) (the default)");
  app.add_flag("--asym", asym, "hf-gptq: asymmetric, a zero point per group");
}

void HfGptqFlags::check(const CLI::App& app) const {
  if (format != "gguf" && format != "hf-gptq") fail("--format '{}' is not one of gguf, hf-gptq", format);
  if (sym && asym) fail("--sym and --asym exclude each other");
  if (hf_gptq()) {
    for (const char* f : {"--type", "--tensor-type", "--pure", "--imatrix"})
      if (app.count(f)) fail("{} picks GGUF block types; with --format hf-gptq use --bits, --group-size, --sym/--asym", f);
    return;
  }
  for (const char* f : {"--bits", "--group-size", "--sym", "--asym"})
    if (app.count(f)) fail("{} applies to --format hf-gptq (GGUF output takes --type)", f);
}

int quantize_hf_gptq(const ModelFile& m, const std::string& out, QuantizeOptions qo, HfGptqFlags flags, bool json, bool quiet) {
  flags.opts.sym = !flags.asym;
  qo.progress = !json;
  if (qo.method != QuantMethod::Gptq) qo.gptq_act_order = false;   // recorded as desc_act
  const HfGptqExportReport r = export_hf_gptq(m, out, qo, flags.opts);
  const HfGptqExportOptions& o = flags.opts;
  const std::string scheme = fmt::format("GPTQ {}-bit {} {}", o.bits, o.group_size > 0 ? "g" + std::to_string(o.group_size) : "per-channel",
                                         o.sym ? "sym" : "asym");
  if (json) {
    nlohmann::json j{{"input", m.path}, {"output", out}, {"format", "hf-gptq"}, {"scheme", scheme},
                     {"bits", o.bits}, {"group_size", o.group_size}, {"sym", o.sym}, {"method", r.method},
                     {"desc_act", qo.gptq_act_order}, {"n_params", r.n_params}, {"bytes", r.bytes},
                     {"bits_per_weight", r.bits_per_weight}, {"linear_bits_per_weight", r.linear_bits_per_weight},
                     {"seconds", r.seconds}, {"calib_seconds", r.calib_seconds}, {"peak_rss_bytes", r.peak_rss_bytes},
                     {"files", r.files}, {"tokenizer", r.tokenizer}};
    j["tensors"] = nlohmann::json::array();
    for (const auto& t : r.tensors) j["tensors"].push_back({{"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape}, {"bytes", t.bytes}});
    print_json(j);
    return 0;
  }
  if (!quiet) {
    for (const auto& t : r.tensors) {
      std::string shape;
      for (auto d : t.shape) shape += (shape.empty() ? "" : " x ") + std::to_string(d);
      std::printf("  %-44s %-4s [%s] %10s\n", t.name.c_str(), t.dtype.c_str(), shape.c_str(),
                  human_bytes(static_cast<double>(t.bytes)).c_str());
    }
    std::string files;
    for (const auto& f : r.files) files += (files.empty() ? "" : ", ") + f;
    std::printf("  files: %s\n", files.c_str());
    if (!r.tokenizer)
      std::printf("  note: no tokenizer exported (the source is %s, not a Hugging Face directory); add tokenizer files "
                  "to the folder before loading it with transformers\n", model_format_name(m.format));
  }
  std::printf("%s -> %s (%s, %s%s): %llu params, %s, %.3f bits per weight (Linears %.3f), %.2f s, peak RSS %s\n",
              m.path.c_str(), out.c_str(), scheme.c_str(), r.method.c_str(), qo.gptq_act_order ? ", act-order" : "",
              static_cast<unsigned long long>(r.n_params), human_bytes(static_cast<double>(r.bytes)).c_str(),
              r.bits_per_weight, r.linear_bits_per_weight, r.seconds, human_bytes(static_cast<double>(r.peak_rss_bytes)).c_str());
  return 0;
}

}  // namespace lowbit::cli
