#include "core/atomic_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <vector>

#include "core/error.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;

// The signal handler walks these without the lock (the process exits right after), so each
// entry's paths are built whole before it is published: unlink/rmdir need no allocation.
struct Pending {
  std::string dir;
  std::vector<std::string> files;
};
std::mutex g_mu;
std::vector<Pending>& pending() {
  static std::vector<Pending> v;
  return v;
}

void remove_dir_files(const std::string& dir, const std::vector<std::string>& files) {
  for (const auto& f : files) unlink(f.c_str());
  rmdir(dir.c_str());
}

void forget(const std::string& dir) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto& v = pending();
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i].dir == dir) {
      v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
      return;
    }
}

}  // namespace

AtomicDir::AtomicDir(std::string path, std::set<std::string> replaceable)
    : path_(std::move(path)), replaceable_(std::move(replaceable)) {
  while (!path_.empty() && path_.size() > 1 && path_.back() == '/') path_.pop_back();
  if (path_.empty()) fail("output directory: empty path");
  tmp_ = path_ + ".tmp." + std::to_string(getpid());
  {
    std::lock_guard<std::mutex> lock(g_mu);
    pending().push_back({tmp_, {}});
  }
  if (mkdir(tmp_.c_str(), 0755) != 0) {
    const int err = errno;
    forget(tmp_);
    fail("{}: cannot create: {}", tmp_, std::strerror(err));
  }
}

AtomicDir::~AtomicDir() {
  if (!committed_) {
    // The directory was made by this writer (mkdir fails on an existing one), so everything
    // in it is ours, whatever order the writers inside are destroyed in.
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
  forget(tmp_);
}

std::string AtomicDir::file(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
    fail("{}: '{}' is not a plain file name", path_, name);
  replaceable_.insert(name);
  std::string full = tmp_ + "/" + name;
  std::lock_guard<std::mutex> lock(g_mu);
  for (auto& p : pending())
    if (p.dir == tmp_) {
      p.files.push_back(full);
      break;
    }
  return full;
}

void AtomicDir::commit() {
  if (committed_) fail("{}: committed twice", path_);
  const int dfd = open(tmp_.c_str(), O_RDONLY | O_DIRECTORY);   // the renames inside are durable
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(path_, ec);
  if (!fs::exists(st)) {
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail("{}: cannot rename to {}: {}", tmp_, path_, std::strerror(errno));
    committed_ = true;
    return;
  }
  if (!fs::is_directory(st)) fail("{}: exists and is not a directory; remove it or choose another output", path_);
  std::vector<std::string> old_files;
  for (const auto& e : fs::directory_iterator(path_, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || e.is_symlink() || !replaceable_.count(name))
      fail("{}: exists and holds '{}', which this output would not write; remove the directory or choose another output",
           path_, name);
    old_files.push_back(name);
  }
  if (ec) fail("{}: cannot list: {}", path_, ec.message());
  const std::string aside = path_ + ".old." + std::to_string(getpid());
  if (std::rename(path_.c_str(), aside.c_str()) != 0)
    fail("{}: cannot move the old directory aside to {}: {}", path_, aside, std::strerror(errno));
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    std::rename(aside.c_str(), path_.c_str());   // put the old one back
    fail("{}: cannot rename to {}: {}", tmp_, path_, std::strerror(err));
  }
  committed_ = true;
  for (const auto& f : old_files) unlink((aside + "/" + f).c_str());
  rmdir(aside.c_str());
}

void remove_pending_temp_dirs() {
  for (const auto& p : pending()) remove_dir_files(p.dir, p.files);
}

}  // namespace lowbit
