#include "harness.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>

#include <cmath>

#include "core/error.h"
#include "model/llama.h"
#include "model/model_file.h"

namespace lowbit::e2e {
namespace fs = std::filesystem;

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

CmdResult run_cmd(const std::string& cmd) {
  CmdResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string lowbit_bin() { return LOWBIT_BIN; }

namespace {
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "lowbit-e2e-XXXXXX").string();
    path = mkdtemp(tmpl.data()) ? tmpl : "/tmp";
  }
  ~TempDir() {
    std::error_code ec;
    if (path != "/tmp") fs::remove_all(path, ec);
  }
};
}  // namespace

std::string temp_dir() {
  static TempDir d;
  return d.path;
}

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string p = temp_dir() + "/" + name;
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

bool judge_available() {
  return fs::exists(fs::path(LOWBIT_JUDGE).parent_path() / "node_modules" / "node-llama-cpp") &&
         run_cmd("node --version").status == 0;
}

bool cpu_has_flag(const std::string& flag) {
  static const std::set<std::string> flags = [] {
    std::set<std::string> f;
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("flags", 0) != 0) continue;
      std::istringstream words(line.substr(line.find(':') + 1));
      for (std::string w; words >> w;) f.insert(w);
      break;
    }
    return f;
  }();
  return flags.count(flag) > 0;
}

bool llamacpp_uses_avx512_order() {
  return cpu_has_flag("avx512f") && cpu_has_flag("avx512bw") && cpu_has_flag("avx512dq") && cpu_has_flag("avx512vl") &&
         !cpu_has_flag("amx_tile");
}

nlohmann::json judge(const std::string& mode, const std::string& model, const std::string& text_file,
                     const std::string& extra) {
  const std::string out = temp_dir() + "/judge.json";
  const auto r = run_cmd("node " + quote(LOWBIT_JUDGE) + " " + mode + " " + quote(model) + " " + quote(text_file) +
                         " " + extra + " --json-out " + quote(out));
  if (r.status != 0) throw Error("llama.cpp judge failed: " + r.out);
  std::ifstream in(out);
  return nlohmann::json::parse(in);
}

std::string head_of(const std::string& p, size_t n) {
  std::ifstream in(p, std::ios::binary);
  std::string s(n, '\0');
  in.read(s.data(), static_cast<std::streamsize>(n));
  s.resize(static_cast<size_t>(in.gcount()));
  return s;
}

std::vector<double> logprobs_from_logits(const std::vector<float>& logits, const std::vector<int32_t>& tokens, int V) {
  std::vector<double> lp;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    const float* row = &logits[i * V];
    double mx = row[0];
    for (int j = 1; j < V; ++j) mx = std::max<double>(mx, row[j]);
    double s = 0;
    for (int j = 0; j < V; ++j) s += std::exp(row[j] - mx);
    lp.push_back(row[tokens[i + 1]] - mx - std::log(s));
  }
  return lp;
}

std::vector<double> lowbit_logprobs(const std::string& model_path, const std::vector<int32_t>& tokens) {
  const ModelFile m = open_model(model_path);
  LlamaModel model(m, static_cast<int>(tokens.size()));
  std::vector<float> logits;
  model.eval(tokens, true, logits);
  return logprobs_from_logits(logits, tokens, m.config.vocab_size);
}

double mean_abs_diff(const std::vector<double>& a, const std::vector<double>& b, double* max_abs) {
  const size_t n = std::min(a.size(), b.size());
  double sum = 0, mx = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = std::fabs(a[i] - b[i]);
    sum += d;
    mx = std::max(mx, d);
  }
  if (max_abs) *max_abs = mx;
  return n ? sum / n : 0;
}

}  // namespace lowbit::e2e
