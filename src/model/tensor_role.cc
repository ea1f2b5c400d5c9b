#include "model/tensor_role.h"

#include <cstdlib>
#include <cstring>

namespace lowbit {
namespace {

struct RoleRow {
  TensorRole role;
  const char* name;   // the GGUF role name (between "blk.N." and ".weight")
};
constexpr RoleRow kRoles[] = {
    {TensorRole::TokenEmbd, "token_embd"}, {TensorRole::Output, "output"},
    {TensorRole::OutputNorm, "output_norm"}, {TensorRole::AttnNorm, "attn_norm"},
    {TensorRole::AttnQ, "attn_q"},         {TensorRole::AttnK, "attn_k"},
    {TensorRole::AttnV, "attn_v"},         {TensorRole::AttnOutput, "attn_output"},
    {TensorRole::FfnNorm, "ffn_norm"},     {TensorRole::FfnGate, "ffn_gate"},
    {TensorRole::FfnUp, "ffn_up"},         {TensorRole::FfnDown, "ffn_down"},
    {TensorRole::Bias, "bias"},            {TensorRole::Other, "other"},
};

}  // namespace

const char* tensor_role_name(TensorRole r) {
  for (const auto& row : kRoles)
    if (row.role == r) return row.name;
  return "other";
}

TensorName parse_tensor_name(const std::string& name) {
  TensorName t;
  std::string rest = name;
  if (rest.rfind("blk.", 0) == 0) {
    const size_t dot = rest.find('.', 4);
    if (dot == std::string::npos) return t;
    t.layer = std::atoi(rest.substr(4, dot - 4).c_str());
    rest = rest.substr(dot + 1);
  }
  if (rest.size() > 5 && rest.compare(rest.size() - 5, 5, ".bias") == 0) {
    t.role = TensorRole::Bias;
    return t;
  }
  if (rest.size() > 7 && rest.compare(rest.size() - 7, 7, ".weight") == 0) rest.resize(rest.size() - 7);
  for (const auto& row : kRoles)
    if (rest == row.name) t.role = row.role;
  return t;
}

}  // namespace lowbit
