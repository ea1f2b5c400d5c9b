// The `lowbit` command: dispatches to one file per subcommand (cmd_*.cc).
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"
#include "core/atomic_dir.h"
#include "core/atomic_file.h"
#include "core/error.h"

namespace {

void on_signal(int sig) {
  lowbit::remove_pending_temp_files();
  lowbit::remove_pending_temp_dirs();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void usage() {
  std::fputs(
      "lowbit: quantize LLaMA-family models and measure them\n\n"
      "usage: lowbit <command> [options]   (lowbit <command> --help for each)\n\n"
      "commands:\n", stdout);
  for (const auto& c : lowbit::cli::commands()) std::printf("  %-12s %s\n", c.name, c.summary);
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : lowbit::cli::commands()) {
    if (std::strcmp(argv[1], c.name) != 0) continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const lowbit::Error& e) {
      std::fprintf(stderr, "lowbit %s: error: %s\n", c.name, e.what());
      return 1;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "lowbit %s: error: out of memory\n", c.name);
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "lowbit %s: error: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "lowbit: unknown command '%s' (try lowbit --help)\n", argv[1]);
  return 2;
}
