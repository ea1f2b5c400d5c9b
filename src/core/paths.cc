#include "core/paths.h"

#include <cstdlib>
#include <filesystem>

namespace lowbit {

std::string shared_dir() {
  if (const char* e = std::getenv("LOWBIT_SHARED"); e && *e) return e;
#ifdef LOWBIT_SOURCE_DIR
  return std::string(LOWBIT_SOURCE_DIR) + "/../shared";
#else
  return "../shared";
#endif
}

std::string shared_path(const std::string& rel) { return shared_dir() + "/" + rel; }

}  // namespace lowbit
