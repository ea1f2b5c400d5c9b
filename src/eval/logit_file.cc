#include "eval/logit_file.h"

#include <cstring>

#include "core/byte_reader.h"
#include "core/error.h"
#include "core/half.h"

namespace lowbit {
namespace {
constexpr char kMagic[8] = {'L', 'B', 'L', 'O', 'G', 'I', 'T', '1'};
}

LogitFileWriter::LogitFileWriter(const std::string& path, const LogitFileHeader& h, const std::vector<int32_t>& tokens)
    : file_(path), h_(h), buf_(h.n_vocab) {
  if (tokens.size() != static_cast<size_t>(h.n_chunks) * h.n_ctx) fail("{}: token count does not match header", path);
  file_.write(kMagic, 8);
  file_.write(&h_, sizeof(h_));
  file_.write(tokens.data(), tokens.size() * 4);
}

void LogitFileWriter::append_row(const float* lp) {
  for (uint32_t i = 0; i < h_.n_vocab; ++i) buf_[i] = f32_to_f16(lp[i]);
  file_.write(buf_.data(), buf_.size() * 2);
  ++rows_;
}

void LogitFileWriter::commit() {
  if (rows_ != static_cast<uint64_t>(h_.n_chunks) * h_.n_scored)
    fail("{}: wrote {} rows, header promises {}", file_.path(), rows_, static_cast<uint64_t>(h_.n_chunks) * h_.n_scored);
  file_.commit();
}

LogitFileReader::LogitFileReader(const std::string& path) : map_(MappedFile::open(path)) {
  ByteReader r(map_->data(), map_->size(), path);
  const std::string magic = r.read_bytes(8, "magic");
  if (std::memcmp(magic.data(), kMagic, 8) != 0) r.fail_at("magic", "not a lowbit logits file (expected LBLOGIT1)");
  h_.n_vocab = r.read<uint32_t>("n_vocab");
  h_.n_ctx = r.read<uint32_t>("n_ctx");
  h_.n_chunks = r.read<uint32_t>("n_chunks");
  h_.n_scored = r.read<uint32_t>("n_scored");
  if (h_.n_vocab == 0 || h_.n_ctx == 0 || h_.n_scored >= h_.n_ctx) r.fail_at("header", "impossible sizes");
  uint64_t ntok = static_cast<uint64_t>(h_.n_chunks) * h_.n_ctx;  // u32*u32 fits in u64
  r.need(ntok * 4, "tokens");
  tokens_ = reinterpret_cast<const int32_t*>(map_->data() + r.offset());
  r.skip(ntok * 4, "tokens");
  uint64_t rows = static_cast<uint64_t>(h_.n_chunks) * h_.n_scored, bytes = 0;
  if (mul_overflows(rows, static_cast<uint64_t>(h_.n_vocab) * 2, &bytes)) r.fail_at("logprobs", "size overflows");
  if (bytes != r.remaining())
    r.fail_at("logprobs", fmt::format("expected {} bytes of log-probs, file has {}", bytes, r.remaining()));
  rows_ = map_->data() + r.offset();
}

void LogitFileReader::row(uint64_t index, float* out) const {
  const uint8_t* p = rows_ + index * h_.n_vocab * 2;
  for (uint32_t i = 0; i < h_.n_vocab; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    out[i] = f16_to_f32(h);
  }
}

}  // namespace lowbit
