// Writes a directory whole or not at all, as AtomicFile does for one file: files go into
// "<path>.tmp.<pid>", a sibling on the same file system, which is renamed to <path> on
// commit(). A writer destroyed without commit() (an error, or Ctrl-C through the CLI's signal
// handler: remove_pending_temp_dirs) deletes the files it registered and the temp directory.
//
// An existing <path> is replaced only when it holds nothing but regular files whose names
// this writer may write (a previous output of the same kind): it is renamed aside, the new
// directory renamed in, then the old files deleted. Anything else — other files, folders,
// a plain file at <path> — is an Error, so a typo never deletes a directory of someone's work.
#pragma once

#include <set>
#include <string>

namespace lowbit {

class AtomicDir {
 public:
  // replaceable: the names an existing <path> may hold for it to be replaced (file() adds
  // the names it hands out). Throws Error when the temp directory cannot be created.
  explicit AtomicDir(std::string path, std::set<std::string> replaceable = {});
  ~AtomicDir();
  AtomicDir(const AtomicDir&) = delete;
  AtomicDir& operator=(const AtomicDir&) = delete;

  // The path to write `name` at inside the temp directory (a plain file name: no '/', not
  // "." or ".."), registered for cleanup.
  std::string file(const std::string& name);
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return tmp_; }

 private:
  std::string path_, tmp_;
  std::set<std::string> replaceable_;
  bool committed_ = false;
};

// Files and temp directories of AtomicDirs not committed, removed by the CLI's SIGINT/SIGTERM
// handler (after remove_pending_temp_files, which removes the AtomicFile temps inside them).
void remove_pending_temp_dirs();

}  // namespace lowbit
