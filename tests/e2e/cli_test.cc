// The `lowbit` command as a user meets it: help on every subcommand, one clear error and a
// non-zero exit for every bad input, no partial output files, JSON that parses.
#include <filesystem>
#include <cstring>
#include <fstream>
#include <limits>

#include <gtest/gtest.h>

#include "core/paths.h"
#include "harness.h"

namespace lowbit::e2e {
namespace {
namespace fs = std::filesystem;

std::string bin() { return quote(lowbit_bin()); }
std::string stories() { return quote(shared_path("models/stories260K.bin")); }
std::string eval_text() { return quote(shared_path("data/tinystories/eval.txt")); }

TEST(Cli, HelpOnEverySubcommand) {
  for (const char* c : {"inspect", "convert", "run", "perplexity"}) {
    auto r = run_cmd(bin() + " " + c + " --help");
    EXPECT_EQ(r.status, 0) << c;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
  EXPECT_EQ(run_cmd(bin() + " --help").status, 0);
  EXPECT_NE(run_cmd(bin()).status, 0);
  EXPECT_NE(run_cmd(bin() + " frobnicate").status, 0);
}

TEST(Cli, BadInputsGiveOneErrorAndNonZeroExit) {
  const std::string garbage = write_temp("garbage.bin", std::string(100, '\x7f'));
  const std::string trunc_gguf = write_temp("trunc.gguf", std::string("GGUF\x03\0\0\0", 8));
  struct Case {
    std::string args, expect;
  } cases[] = {
      {"inspect /nonexistent/model.gguf", "no such file"},
      {"inspect " + quote(garbage), "garbage.bin"},
      {"inspect " + quote(trunc_gguf), "byte offset"},
      {"convert " + stories() + " " + quote(temp_dir() + "/x.gguf") + " --type q9_9", "--type"},
      {"run " + stories() + " -n -5", "-n"},
      {"run " + stories() + " --temp abc", "temp"},
      {"perplexity " + stories() + " -f /nonexistent.txt", "nonexistent.txt"},
      {"perplexity " + stories() + " -f " + eval_text() + " -c 2", "-c"},
      {"perplexity " + stories() + " -f " + eval_text() + " -c 256 --kl-base " + quote(garbage), "LBLOGIT1"},
      {"perplexity " + stories(), "--file"},
  };
  for (const auto& c : cases) {
    auto r = run_cmd(bin() + " " + c.args);
    EXPECT_NE(r.status, 0) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << c.args << "\n" << r.out;
    EXPECT_EQ(r.out.find("Sanitizer"), std::string::npos) << r.out;
  }
}

TEST(Cli, NanWeightsAreRejected) {
  // A llama2.c checkpoint with one NaN in the embedding table.
  std::ifstream in(shared_path("models/stories260K.bin"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(&bytes[28 + 4 * 100], &nan, 4);
  const std::string dir = temp_dir() + "/nan";
  fs::create_directories(dir);
  std::ofstream(dir + "/model.bin", std::ios::binary) << bytes;
  fs::copy_file(shared_path("models/tok512.bin"), dir + "/tokenizer.bin", fs::copy_options::overwrite_existing);
  auto r = run_cmd(bin() + " convert " + quote(dir + "/model.bin") + " " + quote(dir + "/out.gguf"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("non-finite"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir + "/out.gguf"));
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos);
}

TEST(Cli, ConvertInspectJsonAndAtomicOutput) {
  const std::string out = temp_dir() + "/cli.gguf";
  auto r = run_cmd(bin() + " convert " + stories() + " " + quote(out) + " --type f16 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["type"], "f16");
  r = run_cmd(bin() + " inspect " + quote(out) + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["config"]["n_layers"], 5);
  EXPECT_EQ(j["config"]["vocab_size"], 512);
  EXPECT_EQ(j["tensors"].size(), 2u + 5 * 9);
  EXPECT_GT(j["bits_per_weight"].get<double>(), 15.0);
  // Converting onto an existing file replaces it whole; a failed convert leaves it alone.
  const auto before = fs::file_size(out);
  r = run_cmd(bin() + " convert /nonexistent " + quote(out));
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(fs::file_size(out), before);
}

TEST(Cli, RunIsDeterministicWithSeed) {
  const std::string a = run_cmd(bin() + " run " + stories() + " -n 24 --temp 0.9 --seed 7 --json").out;
  const std::string b = run_cmd(bin() + " run " + stories() + " -n 24 --temp 0.9 --seed 7 --json").out;
  auto ja = nlohmann::json::parse(a), jb = nlohmann::json::parse(b);
  EXPECT_EQ(ja["tokens"], jb["tokens"]);
  EXPECT_GT(ja["generation_tokens_per_second"].get<double>(), 0);
}

TEST(Cli, SaveLogitsThenKlOfSameModelIsZero) {
  const std::string base = temp_dir() + "/base.logits";
  auto r = run_cmd(bin() + " perplexity " + stories() + " -f " + eval_text() + " -c 128 --chunks 6 --save-logits " +
                   quote(base) + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  r = run_cmd(bin() + " perplexity " + stories() + " -f " + eval_text() + " -c 128 --chunks 6 --kl-base " + quote(base) +
              " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_LT(j["kl"]["mean"].get<double>(), 1e-4);  // f16 storage of the base log-probs only
  EXPECT_GT(j["kl"]["same_top_pct"].get<double>(), 99.0);
  EXPECT_NEAR(j["kl"]["base_ppl"].get<double>(), j["ppl"].get<double>(), 1e-2);
}

}  // namespace
}  // namespace lowbit::e2e
