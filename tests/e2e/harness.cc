#include "harness.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"

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

nlohmann::json judge(const std::string& mode, const std::string& model, const std::string& text_file,
                     const std::string& extra) {
  const std::string out = temp_dir() + "/judge.json";
  const auto r = run_cmd("node " + quote(LOWBIT_JUDGE) + " " + mode + " " + quote(model) + " " + quote(text_file) +
                         " " + extra + " --json-out " + quote(out));
  if (r.status != 0) throw Error("llama.cpp judge failed: " + r.out);
  std::ifstream in(out);
  return nlohmann::json::parse(in);
}

}  // namespace lowbit::e2e
