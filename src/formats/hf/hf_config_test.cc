#include "formats/hf/hf_config.h"

#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/paths.h"
#include "formats/hf/hf_test_util.h"

namespace lowbit {
namespace {

using nlohmann::json;
using test::expect_error;
using test::TempDir;
using test::write_file;

json minimal_llama() {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"hidden_size", 64},
          {"intermediate_size", 128},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 4},
          {"vocab_size", 100}};
}

HfConfig read(const TempDir& dir, const json& j) {
  const std::string path = dir.file("config.json");
  write_file(path, j.dump());
  return hf_read_config(path);
}

TEST(HfConfig, ReadsTinystoriesConfig) {
  const std::string path = shared_path("models/tinystories-llama-6m/config.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not found (set LOWBIT_SHARED)";
  const HfConfig c = hf_read_config(path);
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.hidden_size, 256);
  EXPECT_EQ(c.intermediate_size, 768);
  EXPECT_EQ(c.num_hidden_layers, 6);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.vocab_size, 2048);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_EQ(c.bos_token_id, 2046);
  EXPECT_EQ(c.eos_token_id, 2047);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
}

TEST(HfConfig, Defaults) {
  TempDir dir;
  const HfConfig c = read(dir, minimal_llama());
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.max_position_embeddings, 2048);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_EQ(c.bos_token_id, -1);
  EXPECT_EQ(c.eos_token_id, -1);
  EXPECT_EQ(c.torch_dtype, "");
}

TEST(HfConfig, NullMeansDefault) {
  TempDir dir;
  json j = minimal_llama();
  j["num_key_value_heads"] = nullptr;
  j["head_dim"] = nullptr;
  j["rope_scaling"] = nullptr;
  j["bos_token_id"] = nullptr;
  const HfConfig c = read(dir, j);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.bos_token_id, -1);
}

TEST(HfConfig, Architectures) {
  TempDir dir;
  json j = minimal_llama();
  j["attention_bias"] = true;
  EXPECT_TRUE(read(dir, j).qkv_bias);

  j = minimal_llama();
  j["architectures"] = {"Qwen2ForCausalLM"};
  j["tie_word_embeddings"] = true;
  j["use_sliding_window"] = false;
  HfConfig q = read(dir, j);
  EXPECT_EQ(q.model_type, "qwen2");
  EXPECT_TRUE(q.qkv_bias);   // always, whatever attention_bias says
  EXPECT_TRUE(q.tie_word_embeddings);

  j = minimal_llama();
  j["architectures"] = {"MistralForCausalLM"};
  j["num_key_value_heads"] = 2;
  j["sliding_window"] = nullptr;
  const HfConfig m = read(dir, j);
  EXPECT_EQ(m.architecture, "MistralForCausalLM");
  EXPECT_EQ(m.model_type, "mistral");
  EXPECT_EQ(m.num_key_value_heads, 2);

  // No architectures: the model_type decides.
  j = minimal_llama();
  j.erase("architectures");
  j["model_type"] = "qwen2";
  EXPECT_EQ(read(dir, j).architecture, "Qwen2ForCausalLM");

  // The first supported one of several.
  j = minimal_llama();
  j["architectures"] = {"SomethingElse", "LlamaForCausalLM"};
  EXPECT_EQ(read(dir, j).architecture, "LlamaForCausalLM");
}

TEST(HfConfig, HeadDimGivenNeedNotDivide) {
  TempDir dir;
  json j = minimal_llama();
  j["num_attention_heads"] = 3;
  j["num_key_value_heads"] = 1;
  j["head_dim"] = 32;
  const HfConfig c = read(dir, j);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.num_attention_heads, 3);
}

TEST(HfConfig, TokenIdLists) {
  TempDir dir;
  json j = minimal_llama();
  j["eos_token_id"] = {7, 8, 9};
  j["bos_token_id"] = 1;
  const HfConfig c = read(dir, j);
  EXPECT_EQ(c.eos_token_id, 7);
  EXPECT_EQ(c.bos_token_id, 1);
}

TEST(HfConfig, RopeScaling) {
  TempDir dir;
  json j = minimal_llama();
  j["rope_scaling"] = {{"rope_type", "default"}};
  EXPECT_NO_THROW(read(dir, j));
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  expect_error([&] { read(dir, j); }, {"rope_scaling", "linear", "not supported yet"});
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  expect_error([&] { read(dir, j); }, {"rope_scaling", "llama3", "not supported yet"});
  j["rope_scaling"] = "yarn";
  expect_error([&] { read(dir, j); }, {"rope_scaling", "expected an object"});
}

struct BadConfig {
  const char* what;
  std::function<void(json&)> edit;
  std::string expect;
};

TEST(HfConfigHostile, RejectsBadConfigs) {
  const std::vector<BadConfig> cases = {
      {"missing hidden_size", [](json& j) { j.erase("hidden_size"); }, "field 'hidden_size': missing"},
      {"missing layers", [](json& j) { j.erase("num_hidden_layers"); }, "field 'num_hidden_layers': missing"},
      {"missing vocab", [](json& j) { j.erase("vocab_size"); }, "field 'vocab_size': missing"},
      {"zero heads", [](json& j) { j["num_attention_heads"] = 0; }, "field 'num_attention_heads': 0 is out of range"},
      {"negative hidden", [](json& j) { j["hidden_size"] = -64; }, "field 'hidden_size'"},
      {"huge hidden", [](json& j) { j["hidden_size"] = 1 << 20; }, "field 'hidden_size'"},
      {"int64 overflow", [](json& j) { j["hidden_size"] = 18446744073709551615ull; }, "field 'hidden_size'"},
      {"too many layers", [](json& j) { j["num_hidden_layers"] = 10000; }, "field 'num_hidden_layers'"},
      {"heads do not divide", [](json& j) { j["num_attention_heads"] = 5; }, "do not divide hidden_size"},
      {"kv does not divide", [](json& j) { j["num_key_value_heads"] = 3; }, "field 'num_key_value_heads'"},
      {"zero kv heads", [](json& j) { j["num_key_value_heads"] = 0; }, "field 'num_key_value_heads'"},
      {"unknown arch", [](json& j) { j["architectures"] = {"GPT2LMHeadModel"}; },
       "unsupported architecture GPT2LMHeadModel (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)"},
      {"empty archs", [](json& j) { j["architectures"] = json::array(); }, "field 'architectures': is empty"},
      {"arch not list", [](json& j) { j["architectures"] = "LlamaForCausalLM"; }, "field 'architectures': expected an array"},
      {"arch not string", [](json& j) { j["architectures"] = {1}; }, "field 'architectures[0]'"},
      {"no arch at all", [](json& j) { j.erase("architectures"); }, "field 'architectures': missing"},
      {"unknown model_type", [](json& j) { j.erase("architectures"); j["model_type"] = "gpt2"; }, "unsupported model type"},
      {"string for int", [](json& j) { j["hidden_size"] = "64"; }, "field 'hidden_size': expected an integer, got string \"64\""},
      {"float for int", [](json& j) { j["vocab_size"] = 100.5; }, "field 'vocab_size': expected an integer"},
      {"bool for int", [](json& j) { j["num_hidden_layers"] = true; }, "field 'num_hidden_layers': expected an integer"},
      {"array for int", [](json& j) { j["intermediate_size"] = {1, 2}; }, "field 'intermediate_size'"},
      {"string for float", [](json& j) { j["rms_norm_eps"] = "1e-5"; }, "field 'rms_norm_eps': expected a number"},
      {"zero eps", [](json& j) { j["rms_norm_eps"] = 0; }, "field 'rms_norm_eps'"},
      {"negative theta", [](json& j) { j["rope_theta"] = -1.0; }, "field 'rope_theta'"},
      {"string for bool", [](json& j) { j["tie_word_embeddings"] = "false"; }, "field 'tie_word_embeddings': expected true or false"},
      {"int for bool", [](json& j) { j["attention_bias"] = 1; }, "field 'attention_bias'"},
      {"eos out of vocab", [](json& j) { j["eos_token_id"] = 100; }, "field 'eos_token_id'"},
      {"eos list of strings", [](json& j) { j["eos_token_id"] = {"x"}; }, "field 'eos_token_id[0]'"},
      {"dtype not string", [](json& j) { j["torch_dtype"] = 16; }, "field 'torch_dtype'"},
      {"model_type not string", [](json& j) { j["model_type"] = 3; }, "field 'model_type'"},
      {"not silu", [](json& j) { j["hidden_act"] = "gelu"; }, "field 'hidden_act'"},
      {"mlp bias", [](json& j) { j["mlp_bias"] = true; }, "field 'mlp_bias'"},
      {"sliding window", [](json& j) { j["use_sliding_window"] = true; }, "field 'use_sliding_window'"},
  };
  TempDir dir;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    json j = minimal_llama();
    c.edit(j);
    expect_error([&] { read(dir, j); }, {dir.file("config.json"), c.expect});
  }
}

TEST(HfConfigHostile, NotJson) {
  TempDir dir;
  const std::string path = dir.file("config.json");
  for (const std::string& text : {std::string("{\"hidden_size\": 64,"), std::string(""), std::string("[1,2]"),
                                  std::string("{}\0{", 4), std::string(1000, '[')}) {
    write_file(path, text);
    expect_error([&] { hf_read_config(path); }, {path});
  }
  expect_error([&] { hf_read_config(dir.file("absent.json")); }, {"absent.json", "cannot open"});
}

}  // namespace
}  // namespace lowbit
