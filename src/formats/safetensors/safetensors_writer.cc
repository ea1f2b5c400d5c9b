#include "formats/safetensors/safetensors_writer.h"

#include <set>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "formats/safetensors/located_json.h"
#include "formats/safetensors/safetensors.h"

namespace lowbit {

struct SafetensorsWriter::File {
  explicit File(const std::string& path) : out(path) {}
  AtomicFile out;
};

SafetensorsWriter::SafetensorsWriter(std::string path, std::vector<SafetensorsEntry> entries,
                                     const std::map<std::string, std::string>& metadata)
    : path_(std::move(path)), entries_(std::move(entries)) {
  nlohmann::ordered_json hdr = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    hdr["__metadata__"] = std::move(m);
  }
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const SafetensorsEntry& e = entries_[i];
    const auto bad = [&](const char* field, const std::string& why) {
      fail("{}: tensor {} '{}': field '{}': {}", path_, i, printable(e.name), field, why);
    };
    if (e.name.empty()) bad("name", "is empty");
    if (e.name == "__metadata__") bad("name", "is reserved for the header's metadata");
    if (!seen.insert(e.name).second) bad("name", "is declared twice");
    const uint32_t bits = safetensors_dtype_bits(e.dtype);
    if (!bits) bad("dtype", fmt::format("unknown dtype \"{}\"", printable(e.dtype)));
    uint64_t count = 1;
    for (int64_t d : e.shape) {
      if (d < 0) bad("shape", fmt::format("negative dimension {}", d));
      if (mul_overflows(count, static_cast<uint64_t>(d), &count)) bad("shape", "element count overflows 64 bits");
    }
    uint64_t nbits = 0;
    if (mul_overflows(count, static_cast<uint64_t>(bits), &nbits)) bad("shape", "byte size overflows 64 bits");
    if (nbits % 8) bad("shape", fmt::format("{} elements of {} are not a whole number of bytes", count, e.dtype));
    const uint64_t n = nbits / 8;
    uint64_t end = 0;
    if (add_overflows(offset, n, &end)) bad("shape", "the file's data size overflows 64 bits");
    hdr[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {offset, end}}};
    sizes_.push_back(n);
    offset = end;
  }
  std::string text;
  try {
    text = hdr.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::strict);
  } catch (const nlohmann::json::exception&) {
    fail("{}: a tensor name or metadata string is not valid UTF-8", path_);
  }
  text.append((8 - text.size() % 8) % 8, ' ');   // 8 + N ≡ 0 (mod 8): the data starts aligned
  file_ = std::make_unique<File>(path_);
  uint8_t len[8];
  for (int b = 0; b < 8; ++b) len[b] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * b));
  file_->out.write(len, 8);
  file_->out.write(text.data(), text.size());
}

SafetensorsWriter::~SafetensorsWriter() = default;

void SafetensorsWriter::write(size_t i, const void* data, uint64_t n) {
  if (i != next_)
    fail("{}: tensor {} written out of order (expected tensor {}{})", path_, i, next_,
         next_ < entries_.size() ? " '" + printable(entries_[next_].name) + "'" : std::string(", but all are written"));
  if (n != sizes_[i])
    fail("{}: tensor '{}': {} bytes given, its dtype and shape need {}", path_, printable(entries_[i].name), n, sizes_[i]);
  file_->out.write(data, static_cast<size_t>(n));
  ++next_;
}

void SafetensorsWriter::commit() {
  if (next_ != entries_.size())
    fail("{}: only {} of {} tensors written (next: '{}')", path_, next_, entries_.size(), printable(entries_[next_].name));
  file_->out.commit();
}

}  // namespace lowbit
