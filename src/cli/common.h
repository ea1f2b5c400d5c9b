// Helpers shared by the subcommands: thread count, text files, JSON printing.
#pragma once

#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace lowbit::cli {

// Parses argv with app; prints help / usage errors the CLI11 way. Returns -1 to continue,
// else the exit code to return (0 for --help, 2 for a bad flag).
int parse(CLI::App& app, int argc, char** argv);
void set_threads(int n);           // 0 = all cores; applies to OpenMP and OpenBLAS
std::string read_text_file(const std::string& path);   // Error naming the path
void print_json(const nlohmann::json& j);
std::string human_bytes(double b);

}  // namespace lowbit::cli
