// llama.cpp's imatrix files. Layouts as tools/imatrix/imatrix.cpp writes them
// (save_imatrix / save_imatrix_legacy) and tools/quantize/quantize.cpp reads them:
//
// GGUF: kv in this order: general.type = "imatrix" (string), imatrix.datasets (array of
//   string), imatrix.chunk_count (u32), imatrix.chunk_size (u32). Tensors, entries sorted by
//   name, per entry NAME: "NAME.in_sum2" F32 {n_per_row, n_mat} then "NAME.counts" F32
//   {1, n_mat}; ggml writes only the dimensions up to the last one > 1, so a dense weight
//   (n_mat = 1) has in_sum2 ne = {n_per_row} and counts ne = {1}. Some llama.cpp builds add
//   "NAME.in_sum" (Σ x, same shape as in_sum2); it is checked and ignored here. ggml limits
//   tensor names to 63 bytes (GGML_MAX_NAME = 64), so NAME itself is at most 55.
//   llama-quantize's importance = in_sum2 / counts per matrix, 1 where a count is 0.
//
// .dat: i32 n_entries; per entry i32 name_len, name bytes, i32 ncall, i32 nval,
//   f32 values[nval] = mean(x²) * ncall; then (optional in old files) i32 last_chunk,
//   i32 dataset_len, dataset bytes. llama-quantize's importance = values / ncall.
//   The writer's ncall is ceil(max count / chunk_size) (llama.cpp's rule).
#include "calib/imatrix_io.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>

#include <fmt/ranges.h>

#include "core/atomic_file.h"
#include "core/byte_reader.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/gguf/gguf.h"

namespace lowbit {

namespace {

constexpr const char* kSum2Suffix = ".in_sum2";
constexpr const char* kSumSuffix = ".in_sum";
constexpr const char* kCountsSuffix = ".counts";
constexpr size_t kGgmlMaxName = 64;   // tensor names must be shorter (ggml.h GGML_MAX_NAME)
constexpr int64_t kI32Max = std::numeric_limits<int32_t>::max();

bool strip_suffix(std::string& s, const std::string& suffix) {
  if (s.size() <= suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  s.resize(s.size() - suffix.size());
  return true;
}

// An entry lowbit can use and write: counts for >= 1 matrices, sum2 a whole number of rows
// per matrix, everything finite and >= 0.
void check_entry(const std::string& what, const std::string& name, const ImatrixEntry& e) {
  if (e.count.empty()) fail("{}: entry '{}' has no counts", what, name);
  if (e.sum2.empty() || e.sum2.size() % e.count.size() != 0)
    fail("{}: entry '{}' has {} sums for {} matrices (need a positive multiple)", what, name, e.sum2.size(),
         e.count.size());
  for (size_t i = 0; i < e.count.size(); ++i)
    if (!(std::isfinite(e.count[i]) && e.count[i] >= 0))
      fail("{}: entry '{}': count[{}] = {} (need a finite value >= 0)", what, name, i, e.count[i]);
  for (size_t i = 0; i < e.sum2.size(); ++i)
    if (!(std::isfinite(e.sum2[i]) && e.sum2[i] >= 0))
      fail("{}: entry '{}': sum2[{}] = {} (a sum of squares must be finite and >= 0)", what, name, i, e.sum2[i]);
}

// ---- GGUF ---------------------------------------------------------------------------------

struct TensorTriple {
  const GgufTensorInfo* sum2 = nullptr;
  const GgufTensorInfo* counts = nullptr;
  const GgufTensorInfo* sum = nullptr;
};

uint64_t file_offset(const GgufFile& g, const GgufTensorInfo& t, uint64_t elem) {
  const uint8_t* base = g.map ? g.map->data() : nullptr;
  return base ? static_cast<uint64_t>(t.data - base) + elem * 4 : elem * 4;
}

float f32_at(const GgufTensorInfo& t, uint64_t i) {
  float v;
  std::memcpy(&v, t.data + i * 4, 4);
  return v;
}

int read_int_key(const GgufFile& g, const std::string& path, const char* key) {
  const GgufValue* v = g.find(key);
  if (!v) return 0;
  const uint64_t u = v->as_u64(key);   // throws naming the key on a wrong or negative type
  if (u > static_cast<uint64_t>(kI32Max)) fail("{}: key '{}' = {} is too large", path, key, u);
  return static_cast<int>(u);
}

Imatrix read_gguf(std::shared_ptr<MappedFile> map) {
  const std::string path = map->path();
  const GgufFile g = gguf_parse(map);
  std::optional<std::string> type;
  try {
    type = g.get_str("general.type");
  } catch (const Error& e) {
    fail("{}: {}", path, e.what());
  }
  if (type && *type != "imatrix")
    fail("{}: general.type is '{}', not 'imatrix' (a model file rather than an importance matrix?)", path, *type);

  Imatrix m;
  try {   // the value getters name the key; add the file
    if (const GgufValue* d = g.find("imatrix.datasets")) m.datasets = d->as_str_array("imatrix.datasets");
    m.chunk_count = read_int_key(g, path, "imatrix.chunk_count");
    m.chunk_size = read_int_key(g, path, "imatrix.chunk_size");
  } catch (const Error& e) {
    if (std::string_view(e.what()).starts_with(path)) throw;
    fail("{}: {}", path, e.what());
  }

  std::map<std::string, TensorTriple> by_name;
  for (const auto& t : g.tensors) {
    std::string base = t.name;
    const GgufTensorInfo** slot = nullptr;
    if (strip_suffix(base, kSum2Suffix)) slot = &by_name[base].sum2;
    else if (strip_suffix(base, kCountsSuffix)) slot = &by_name[base].counts;
    else if (strip_suffix(base, kSumSuffix)) slot = &by_name[base].sum;
    else continue;   // llama.cpp ignores other tensors too
    if (t.type != GgmlType::F32)
      fail("{}: tensor '{}' is {} (imatrix tensors are F32)", path, t.name, ggml_type_name(t.type));
    *slot = &t;
  }

  for (const auto& [name, tt] : by_name) {
    if (!tt.sum2 || !tt.counts)
      fail("{}: entry '{}' has {} without {} (every weight needs both '{}{}' and '{}{}')", path, name,
           tt.sum2 ? "in_sum2" : (tt.counts ? "counts" : "in_sum"), tt.sum2 ? "counts" : "in_sum2", name, kSum2Suffix,
           name, kCountsSuffix);
    const GgufTensorInfo& s2 = *tt.sum2;
    const GgufTensorInfo& ct = *tt.counts;
    const uint64_t n_total = s2.n_elements();
    const int64_t n_per_row = s2.ne.empty() ? 1 : s2.ne[0];
    if (n_per_row < 1 || n_total == 0)
      fail("{}: tensor '{}' has no elements", path, s2.name);
    const uint64_t n_mat = n_total / static_cast<uint64_t>(n_per_row);
    // llama.cpp writes counts as {1, n_mat} (just {1} when n_mat = 1); a flat {n_mat} is accepted.
    const bool counts_fit = ct.n_elements() == n_mat && (ct.ne.size() < 2 || ct.ne[0] == 1);
    if (!counts_fit)
      fail("{}: tensor '{}' has shape {} but '{}' has shape {} (expected {} counts, ne = {{1, {}}})", path, ct.name,
           fmt::format("{}", fmt::join(ct.ne, "x")), s2.name, fmt::format("{}", fmt::join(s2.ne, "x")), n_mat, n_mat);
    if (tt.sum && tt.sum->n_elements() != n_total)
      fail("{}: tensor '{}' has {} elements but '{}' has {}", path, tt.sum->name, tt.sum->n_elements(), s2.name,
           n_total);

    ImatrixEntry e;
    e.count.resize(n_mat);
    for (uint64_t j = 0; j < n_mat; ++j) {
      const float c = f32_at(ct, j);
      if (!(std::isfinite(c) && c >= 0))
        fail("{}: byte offset {}: tensor '{}' element {}: count {} (need a finite value >= 0)", path,
             file_offset(g, ct, j), ct.name, j, c);
      e.count[j] = c;
    }
    e.sum2.resize(n_total);
    for (uint64_t i = 0; i < n_total; ++i) {
      const float v = f32_at(s2, i);
      if (!(std::isfinite(v) && v >= 0))
        fail("{}: byte offset {}: tensor '{}' element {}: {} (a sum of squares must be finite and >= 0)", path,
             file_offset(g, s2, i), s2.name, i, v);
      e.sum2[i] = v;
    }
    m.entries.emplace(name, std::move(e));
  }
  if (m.entries.empty())
    fail("{}: no imatrix entries (no '*{}' / '*{}' tensors; is this an importance matrix?)", path, kSum2Suffix,
         kCountsSuffix);
  return m;
}

// ---- legacy .dat --------------------------------------------------------------------------

// The smallest possible entry: name_len, 1 name byte, ncall, nval, one value.
constexpr uint64_t kMinDatEntry = 4 + 1 + 4 + 4 + 4;

Imatrix read_dat(const MappedFile& map) {
  ByteReader r(map.data(), map.size(), map.path());
  Imatrix m;
  const int32_t n_entries = r.read<int32_t>("n_entries");
  if (n_entries < 1) {
    r.seek(0, "n_entries");
    r.fail_at("n_entries", fmt::format("{} (need at least 1; an empty or non-imatrix file?)", n_entries));
  }
  if (static_cast<uint64_t>(n_entries) > r.remaining() / kMinDatEntry) {
    r.seek(0, "n_entries");
    r.fail_at("n_entries", fmt::format("{} entries cannot fit in the {} bytes left (each takes at least {})",
                                       n_entries, r.remaining() - 4, kMinDatEntry));
  }
  for (int32_t i = 0; i < n_entries; ++i) {
    const std::string at = fmt::format("entry {} ", i);
    const size_t len_off = r.offset();
    const int32_t len = r.read<int32_t>(at + "name_len");
    if (len < 1 || static_cast<uint64_t>(len) > kGgufMaxNameBytes) {
      r.seek(len_off, at + "name_len");
      r.fail_at(at + "name_len", fmt::format("{} (need 1..{})", len, kGgufMaxNameBytes));
    }
    const size_t name_off = r.offset();
    std::string name = r.read_bytes(static_cast<uint64_t>(len), at + "name");
    if (name.find('\0') != std::string::npos) {
      r.seek(name_off, at + "name");
      r.fail_at(at + "name", "contains a NUL byte");
    }
    const std::string where = fmt::format("entry {} ('{}') ", i, name);
    const size_t ncall_off = r.offset();
    const int32_t ncall = r.read<int32_t>(where + "ncall");
    if (ncall < 1) {
      r.seek(ncall_off, where + "ncall");
      r.fail_at(where + "ncall", fmt::format("{} (need at least 1)", ncall));
    }
    const size_t nval_off = r.offset();
    const int32_t nval = r.read<int32_t>(where + "nval");
    if (nval < 1 || static_cast<uint64_t>(nval) > r.remaining() / 4) {
      r.seek(nval_off, where + "nval");
      r.fail_at(where + "nval", fmt::format("{} values (need 1..{}: the bytes left hold at most that many)", nval,
                                            (r.remaining() - 4) / 4));
    }
    ImatrixEntry e;
    e.count = {static_cast<double>(ncall)};
    e.sum2.resize(static_cast<size_t>(nval));
    for (int32_t k = 0; k < nval; ++k) {
      const size_t off = r.offset();
      const float v = r.read<float>(where + "values");
      if (!(std::isfinite(v) && v >= 0)) {
        r.seek(off, where + "values");
        r.fail_at(where + fmt::format("values[{}]", k), fmt::format("{} (need a finite value >= 0)", v));
      }
      e.sum2[k] = v;
    }
    if (m.entries.count(name)) {
      r.seek(name_off, at + "name");
      r.fail_at(at + "name", fmt::format("'{}' appears twice", name));
    }
    m.entries.emplace(std::move(name), std::move(e));
  }
  if (r.remaining() == 0) return m;   // files from before llama.cpp added the trailer
  const size_t last_off = r.offset();
  const int32_t last_chunk = r.read<int32_t>("last_chunk");
  if (last_chunk < 0) {
    r.seek(last_off, "last_chunk");
    r.fail_at("last_chunk", fmt::format("{} (need >= 0)", last_chunk));
  }
  const size_t dlen_off = r.offset();
  const int32_t dlen = r.read<int32_t>("dataset name length");
  if (dlen < 0) {
    r.seek(dlen_off, "dataset name length");
    r.fail_at("dataset name length", fmt::format("{} (need >= 0)", dlen));
  }
  std::string dataset = r.read_bytes(static_cast<uint64_t>(dlen), "dataset name");
  if (r.remaining() != 0)
    r.fail_at("end of file", fmt::format("{} unexpected bytes after the dataset name", r.remaining()));
  m.chunk_count = last_chunk;
  if (!dataset.empty()) m.datasets.push_back(std::move(dataset));
  return m;
}

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

void put_i32(std::vector<uint8_t>& out, int64_t v, const std::string& path, const std::string& what) {
  if (v < 0 || v > kI32Max) fail("{}: {} = {} does not fit the .dat format's i32", path, what, v);
  put<int32_t>(out, static_cast<int32_t>(v));
}

float to_f32(double v, const std::string& path, const std::string& what) {
  const float f = static_cast<float>(v);
  if (!std::isfinite(f)) fail("{}: {} = {} does not fit an f32", path, what, v);
  return f;
}

}  // namespace

// ---- Imatrix ------------------------------------------------------------------------------

std::vector<float> Imatrix::importance(const std::string& tensor_name) const {
  auto it = entries.find(tensor_name);
  if (it == entries.end()) return {};
  const ImatrixEntry& e = it->second;
  if (e.count.empty() || e.sum2.size() % e.count.size() != 0)
    fail("imatrix: entry '{}' has {} sums for {} matrices", tensor_name, e.sum2.size(), e.count.size());
  const size_t n_per_row = e.sum2.size() / e.count.size();
  std::vector<float> out(e.sum2.size());
  for (size_t m = 0; m < e.count.size(); ++m)
    for (size_t i = 0; i < n_per_row; ++i) {
      const size_t k = m * n_per_row + i;
      // llama-quantize: a matrix that never saw input (an unused expert) weighs every column 1.
      out[k] = e.count[m] > 0 ? static_cast<float>(e.sum2[k] / e.count[m]) : 1.0f;
    }
  return out;
}

void Imatrix::add(const std::string& tensor_name, const float* X, int64_t rows, int64_t cols) {
  if (tensor_name.empty()) fail("imatrix: add() with an empty tensor name");
  if (rows < 0 || cols < 1) fail("imatrix: add('{}') with {} rows of {} columns", tensor_name, rows, cols);
  if (rows > 0 && !X) fail("imatrix: add('{}') with no data", tensor_name);
  auto it = entries.find(tensor_name);
  if (it != entries.end() && (it->second.sum2.size() != static_cast<size_t>(cols) || it->second.count.size() != 1))
    fail("imatrix: '{}' holds {} sums for {} matrices but add() got rows of {} columns", tensor_name,
         it->second.sum2.size(), it->second.count.size(), cols);
  const size_t n = static_cast<size_t>(rows) * static_cast<size_t>(cols);
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(X[i]))
      fail("imatrix: add('{}'): activation {} at row {} column {} is not finite", tensor_name, X[i],
           i / static_cast<size_t>(cols), i % static_cast<size_t>(cols));
  if (it == entries.end()) {
    ImatrixEntry e;
    e.sum2.assign(static_cast<size_t>(cols), 0.0);
    e.count = {0.0};
    it = entries.emplace(tensor_name, std::move(e)).first;
  }
  ImatrixEntry& e = it->second;
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = X + r * cols;
    for (int64_t j = 0; j < cols; ++j) e.sum2[j] += static_cast<double>(x[j]) * x[j];
  }
  e.count[0] += static_cast<double>(rows);
}

// ---- files --------------------------------------------------------------------------------

Imatrix imatrix_read(const std::string& path) {
  auto map = MappedFile::open(path);
  if (map->size() == 0) fail("{}: empty file (not an importance matrix)", path);
  if (map->size() >= 4 && std::memcmp(map->data(), "GGUF", 4) == 0) return read_gguf(map);
  return read_dat(*map);
}

void imatrix_write_gguf(const std::string& path, const Imatrix& m) {
  if (m.entries.empty()) fail("{}: an imatrix with no entries (llama.cpp refuses to load one)", path);
  if (m.chunk_count < 0 || m.chunk_size < 0)
    fail("{}: chunk_count {} / chunk_size {} must be >= 0", path, m.chunk_count, m.chunk_size);
  GgufFile g;
  g.version = 3;
  g.alignment = kGgufDefaultAlignment;
  g.set("general.type", GgufValue::make_str("imatrix"));
  g.set("imatrix.datasets", GgufValue::make_str_array(m.datasets));
  g.set("imatrix.chunk_count", GgufValue::make_u32(static_cast<uint32_t>(m.chunk_count)));
  g.set("imatrix.chunk_size", GgufValue::make_u32(static_cast<uint32_t>(m.chunk_size)));

  std::vector<std::vector<float>> keep;
  keep.reserve(m.entries.size() * 2);
  for (const auto& [name, e] : m.entries) {   // std::map: sorted by name, as llama.cpp writes
    check_entry(path, name, e);
    if (name.size() + std::strlen(kSum2Suffix) >= kGgmlMaxName)
      fail("{}: tensor name '{}{}' is {} bytes; llama.cpp accepts at most {} (GGML_MAX_NAME)", path, name,
           kSum2Suffix, name.size() + std::strlen(kSum2Suffix), kGgmlMaxName - 1);
    const int64_t n_mat = static_cast<int64_t>(e.count.size());
    const int64_t n_per_row = static_cast<int64_t>(e.sum2.size()) / n_mat;
    std::vector<float> sums(e.sum2.size()), counts(e.count.size());
    for (size_t i = 0; i < sums.size(); ++i) sums[i] = to_f32(e.sum2[i], path, fmt::format("'{}' sum2[{}]", name, i));
    for (size_t i = 0; i < counts.size(); ++i)
      counts[i] = to_f32(e.count[i], path, fmt::format("'{}' count[{}]", name, i));
    keep.push_back(std::move(sums));
    keep.push_back(std::move(counts));

    // ggml_n_dims drops trailing dimensions of 1: dense weights get 1-D tensors.
    GgufTensorInfo s2;
    s2.name = name + kSum2Suffix;
    s2.type = GgmlType::F32;
    s2.ne = n_mat > 1 ? std::vector<int64_t>{n_per_row, n_mat} : std::vector<int64_t>{n_per_row};
    s2.nbytes = keep[keep.size() - 2].size() * 4;
    s2.data = reinterpret_cast<const uint8_t*>(keep[keep.size() - 2].data());
    GgufTensorInfo ct;
    ct.name = name + kCountsSuffix;
    ct.type = GgmlType::F32;
    ct.ne = n_mat > 1 ? std::vector<int64_t>{1, n_mat} : std::vector<int64_t>{1};
    ct.nbytes = keep.back().size() * 4;
    ct.data = reinterpret_cast<const uint8_t*>(keep.back().data());
    g.tensors.push_back(std::move(s2));
    g.tensors.push_back(std::move(ct));
  }
  gguf_write(path, g);
}

void imatrix_write_dat(const std::string& path, const Imatrix& m) {
  if (m.chunk_count < 0) fail("{}: chunk_count {} must be >= 0", path, m.chunk_count);
  std::vector<uint8_t> out;
  put<int32_t>(out, 0);   // n_entries, patched below
  int64_t n_entries = 0;
  for (const auto& [name, e] : m.entries) {
    check_entry(path, name, e);
    const double max_count = *std::max_element(e.count.begin(), e.count.end());
    if (max_count <= 0) continue;   // no data at all: llama.cpp skips such entries too
    // llama.cpp: ncall = ceil(max count / chunk_size). Without a chunk size (an imatrix read
    // from a .dat, whose counts already are ncall) the count itself is used.
    const double ncall_d = m.chunk_size > 0 ? std::ceil(max_count / m.chunk_size) : std::round(max_count);
    const int64_t ncall = std::max<int64_t>(1, static_cast<int64_t>(std::min(ncall_d, 1e18)));
    put_i32(out, static_cast<int64_t>(name.size()), path, fmt::format("the length of name '{}'", name));
    out.insert(out.end(), name.begin(), name.end());
    put_i32(out, ncall, path, fmt::format("'{}' ncall", name));
    put_i32(out, static_cast<int64_t>(e.sum2.size()), path, fmt::format("'{}' nval", name));
    const size_t n_per_row = e.sum2.size() / e.count.size();
    for (size_t i = 0; i < e.sum2.size(); ++i) {
      const double c = e.count[i / n_per_row];
      const double mean = c > 0 ? e.sum2[i] / c : 1.0;   // llama.cpp stores 1 for unused experts
      put<float>(out, to_f32(mean * static_cast<double>(ncall), path, fmt::format("'{}' value[{}]", name, i)));
    }
    ++n_entries;
  }
  if (n_entries == 0) fail("{}: an imatrix with no entries holding data (llama.cpp refuses to load one)", path);
  if (n_entries > kI32Max) fail("{}: {} entries do not fit the .dat format", path, n_entries);
  const int32_t n32 = static_cast<int32_t>(n_entries);
  std::memcpy(out.data(), &n32, 4);
  put_i32(out, m.chunk_count, path, "chunk_count");
  const std::string dataset = m.datasets.empty() ? std::string() : m.datasets.back();
  put_i32(out, static_cast<int64_t>(dataset.size()), path, "the dataset name length");
  out.insert(out.end(), dataset.begin(), dataset.end());

  AtomicFile f(path);
  f.write(out.data(), out.size());
  f.commit();
}

}  // namespace lowbit
