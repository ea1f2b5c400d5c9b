// A one-line progress bar on stderr when stderr is a terminal; silent when piped or when
// the caller asked for --json. Thread-safe update().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace lowbit {

class Progress {
 public:
  Progress(std::string label, uint64_t total, bool enabled = true);
  ~Progress();
  void update(uint64_t done);   // absolute count
  void add(uint64_t n = 1);
  void finish();
  static bool terminal();       // stderr is a TTY and LOWBIT_NO_PROGRESS is unset

 private:
  void draw(uint64_t done, bool force);
  std::string label_;
  uint64_t total_;
  bool enabled_;
  std::atomic<uint64_t> done_{0};
  std::chrono::steady_clock::time_point start_, last_;
  bool finished_ = false;
};

}  // namespace lowbit
