#include "cli/commands.h"
#include "core/error.h"
namespace lowbit::cli {
int cmd_convert(int, char**) { fail("not built yet"); }
}  // namespace lowbit::cli
