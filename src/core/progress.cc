#include "core/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace lowbit {
namespace {
std::mutex g_draw_mu;
}

bool Progress::terminal() {
  const char* off = std::getenv("LOWBIT_NO_PROGRESS");
  return isatty(STDERR_FILENO) && !(off && *off && *off != '0');
}

Progress::Progress(std::string label, uint64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled && terminal()) {
  start_ = last_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { finish(); }

void Progress::update(uint64_t done) {
  done_.store(done);
  draw(done, false);
}

void Progress::add(uint64_t n) { draw(done_.fetch_add(n) + n, false); }

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  draw(done_.load(), true);
  std::fputc('\n', stderr);
}

void Progress::draw(uint64_t done, bool force) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(g_draw_mu);
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double frac = total_ ? static_cast<double>(done) / total_ : 1.0;
  const int width = 30;
  const int fill = static_cast<int>(frac * width + 0.5);
  std::string bar(fill > width ? width : fill, '#');
  bar.resize(width, '.');
  double eta = (frac > 0 && frac < 1) ? secs / frac - secs : 0;
  std::fprintf(stderr, "\r%-14s [%s] %3d%% %llu/%llu  %.1fs elapsed, eta %.1fs ", label_.c_str(), bar.c_str(),
               static_cast<int>(frac * 100), static_cast<unsigned long long>(done),
               static_cast<unsigned long long>(total_), secs, eta);
  std::fflush(stderr);
}

}  // namespace lowbit
