// Helpers for end-to-end tests: run commands, call the llama.cpp judge, temp dirs.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lowbit::e2e {

struct CmdResult {
  int status = -1;
  std::string out;   // stdout and stderr together
};

CmdResult run_cmd(const std::string& cmd);
std::string lowbit_bin();
std::string temp_dir();                    // one per test process, removed at exit
std::string write_temp(const std::string& name, const std::string& text);
std::string quote(const std::string& s);
// True when node + node-llama-cpp are installed; tests fail (not skip) without them unless
// LOWBIT_ALLOW_NO_LLAMACPP=1.
bool judge_available();
nlohmann::json judge(const std::string& mode, const std::string& model, const std::string& text_file,
                     const std::string& extra = "");

}  // namespace lowbit::e2e
