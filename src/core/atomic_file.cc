#include "core/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <vector>

#include "core/error.h"

namespace lowbit {
namespace {

std::mutex g_mu;
std::set<std::string>& pending() {
  static std::set<std::string> s;
  return s;
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  tmp_ = path_ + ".tmp." + std::to_string(getpid());
  {
    std::lock_guard<std::mutex> lock(g_mu);
    pending().insert(tmp_);
  }
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (!f_) {
    std::lock_guard<std::mutex> lock(g_mu);
    pending().erase(tmp_);
    fail("{}: cannot create: {}", tmp_, std::strerror(errno));
  }
}

AtomicFile::~AtomicFile() {
  if (f_) std::fclose(f_);
  if (!committed_) std::remove(tmp_.c_str());
  std::lock_guard<std::mutex> lock(g_mu);
  pending().erase(tmp_);
}

void AtomicFile::write(const void* data, size_t n) {
  if (n && std::fwrite(data, 1, n, f_) != n) fail("{}: write failed: {}", tmp_, std::strerror(errno));
  offset_ += n;
}

void AtomicFile::pad_to(uint64_t alignment) {
  static const std::vector<uint8_t> zeros(4096, 0);
  uint64_t pad = (alignment - offset_ % alignment) % alignment;
  while (pad) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(pad, zeros.size()));
    write(zeros.data(), n);
    pad -= n;
  }
}

void AtomicFile::commit() {
  if (std::fflush(f_) != 0 || fsync(fileno(f_)) != 0) fail("{}: flush failed: {}", tmp_, std::strerror(errno));
  std::fclose(f_);
  f_ = nullptr;
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
    fail("{}: cannot rename to {}: {}", tmp_, path_, std::strerror(errno));
  committed_ = true;
}

void remove_pending_temp_files() {
  // Called from a signal handler: unlink() is async-signal-safe; we skip the lock on purpose
  // (the process exits right after).
  for (const auto& p : pending()) unlink(p.c_str());
}

}  // namespace lowbit
