#include "model/config.h"

#include "core/error.h"

namespace lowbit {

void ModelConfig::validate(const std::string& source) const {
  auto bad = [&](const char* field, long v, const char* why) {
    fail("{}: model config field '{}' = {}: {}", source, field, v, why);
  };
  constexpr long kMaxDim = 1 << 20;
  if (dim <= 0 || dim > kMaxDim) bad("dim", dim, "must be in 1..2^20");
  if (n_layers <= 0 || n_layers > 10000) bad("n_layers", n_layers, "must be in 1..10000");
  if (n_heads <= 0 || n_heads > 4096) bad("n_heads", n_heads, "must be in 1..4096");
  if (n_kv_heads <= 0 || n_kv_heads > n_heads) bad("n_kv_heads", n_kv_heads, "must be in 1..n_heads");
  if (n_heads % n_kv_heads) bad("n_kv_heads", n_kv_heads, "must divide n_heads");
  if (head_dim <= 0 || head_dim > 4096 || head_dim % 2) bad("head_dim", head_dim, "must be even and in 2..4096");
  if (ffn_dim <= 0 || ffn_dim > kMaxDim * 4) bad("ffn_dim", ffn_dim, "must be in 1..2^22");
  if (vocab_size <= 0 || vocab_size > (1 << 24)) bad("vocab_size", vocab_size, "must be in 1..2^24");
  if (max_seq <= 0) bad("max_seq", max_seq, "must be positive");
  if (!(rope_theta > 0)) fail("{}: model config field 'rope_theta' must be positive", source);
  if (!(norm_eps > 0) || norm_eps > 1) fail("{}: model config field 'norm_eps' must be in (0, 1]", source);
}

}  // namespace lowbit
