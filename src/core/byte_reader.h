// A bounded little-endian cursor over untrusted bytes. Every read checks the bytes
// remaining first; a short read throws Error naming the file, byte offset and field.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/error.h"

namespace lowbit {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size, std::string file)
      : data_(data), size_(size), file_(std::move(file)) {}

  size_t offset() const { return pos_; }
  size_t size() const { return size_; }
  size_t remaining() const { return size_ - pos_; }
  const std::string& file() const { return file_; }
  const uint8_t* data() const { return data_; }

  template <typename T>
  T read(std::string_view field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_bytes(uint64_t n, std::string_view field) {
    need(n, field);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }

  void skip(uint64_t n, std::string_view field) {
    need(n, field);
    pos_ += static_cast<size_t>(n);
  }

  void seek(uint64_t pos, std::string_view field) {
    if (pos > size_) fail_at(field, fmt::format("offset {} is past the end of the file ({} bytes)", pos, size_));
    pos_ = static_cast<size_t>(pos);
  }

  void need(uint64_t n, std::string_view field) const {
    if (n > remaining())
      fail_at(field, fmt::format("needs {} bytes but only {} remain (truncated file?)", n, remaining()));
  }

  [[noreturn]] void fail_at(std::string_view field, const std::string& why) const {
    fail("{}: byte offset {}: field '{}': {}", file_, pos_, field, why);
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string file_;
};

}  // namespace lowbit
