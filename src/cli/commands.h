// The subcommand table: one row per cmd_*.cc file.
#pragma once

#include <vector>

namespace lowbit::cli {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);   // argv[0] is the command name
};

const std::vector<Command>& commands();

int cmd_inspect(int argc, char** argv);
int cmd_convert(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_perplexity(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_calibrate(int argc, char** argv);
int cmd_synth(int argc, char** argv);
int cmd_bench(int argc, char** argv);

}  // namespace lowbit::cli
