// `lowbit quantize --format hf-gptq`: the Hugging Face GPTQ export branch of cmd_quantize.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "model/model_file.h"
#include "quant/pipeline/export_hf_gptq.h"
#include "quant/pipeline/quantize_model.h"

namespace lowbit::cli {

// Flags of cmd_quantize that only the hf-gptq format reads (registered on `app`).
struct HfGptqFlags {
  std::string format = "gguf";
  HfGptqExportOptions opts;
  bool sym = false, asym = false;
  void add_to(CLI::App& app);
  // Error when a GGUF-only flag is given with --format hf-gptq, or an hf-gptq flag without it.
  void check(const CLI::App& app) const;
  bool hf_gptq() const { return format == "hf-gptq"; }
};

// Runs the export and prints its report (text or --json). Returns the exit code.
int quantize_hf_gptq(const ModelFile& m, const std::string& out, QuantizeOptions qo, HfGptqFlags flags, bool json, bool quiet);

}  // namespace lowbit::cli
