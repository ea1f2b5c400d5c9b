#include "cli/commands.h"
#include "core/error.h"
namespace lowbit::cli {
int cmd_run(int, char**) { fail("not built yet"); }
}  // namespace lowbit::cli
