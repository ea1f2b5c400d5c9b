// lowbit convert IN OUT.gguf --type f32|f16|bf16
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "quant/pipeline/quantize_model.h"

namespace lowbit::cli {

int cmd_convert(int argc, char** argv) {
  CLI::App app{"Convert a llama2.c checkpoint, a Hugging Face directory or a GGUF file (any block type,\n"
               "dequantized) to a GGUF file that llama.cpp runs. Matrices become TYPE; norms stay f32.\n"
               "Hugging Face q/k projections are permuted to llama.cpp's RoPE order. Written atomically.",
               "convert"};
  std::string in, out, type_name = "f32", tokenizer;
  bool json = false;
  int threads = 0;
  app.add_option("IN", in, "input model (file or Hugging Face directory)")->required();
  app.add_option("OUT", out, "output .gguf path")->required();
  app.add_option("--type,-t", type_name, "f32 | f16 | bf16")->capture_default_str();
  app.add_option("--tokenizer", tokenizer, "llama2.c tokenizer.bin (default: found beside the model)");
  app.add_option("--threads", threads, "threads (0 = all cores)");
  app.add_flag("--json", json, "machine-readable summary");
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  set_threads(threads);

  auto type = ggml_type_from_name(type_name);
  if (!type || (*type != GgmlType::F32 && *type != GgmlType::F16 && *type != GgmlType::BF16))
    fail("--type '{}' is not one of f32, f16, bf16 (use `lowbit quantize` for block types)", type_name);
  OpenOptions oo;
  oo.tokenizer = tokenizer;
  const ModelFile m = open_model(in, oo);
  QuantizeOptions qo;
  qo.mix = type_name;
  qo.progress = !json;
  const QuantizeReport r = quantize_model(m, out, qo);
  if (json) {
    print_json({{"input", m.path}, {"format", model_format_name(m.format)}, {"output", out},
                {"type", ggml_type_name(*type)}, {"n_params", r.n_params}, {"bytes", r.bytes}, {"seconds", r.seconds}});
  } else {
    std::printf("%s (%s) -> %s: %zu tensors, %llu params, %s, %.2f s\n", m.path.c_str(), model_format_name(m.format),
                out.c_str(), m.tensors.size(), static_cast<unsigned long long>(r.n_params),
                human_bytes(static_cast<double>(r.bytes)).c_str(), r.seconds);
  }
  return 0;
}

}  // namespace lowbit::cli
