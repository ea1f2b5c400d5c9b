#include "model/unicode.h"

#include <array>

#include <unicode/uchar.h>

namespace lowbit::unicode {

std::vector<uint32_t> decode_utf8(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  const size_t n = s.size();
  auto cont = [&](size_t i) { return i < n && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80; };
  size_t i = 0;
  while (i < n) {
    const uint8_t b = static_cast<uint8_t>(s[i]);
    uint32_t c;
    size_t len;
    if (b < 0x80) {
      c = b, len = 1;
    } else if ((b & 0xE0) == 0xC0 && cont(i + 1)) {
      c = (b & 0x1Fu) << 6 | (s[i + 1] & 0x3F), len = 2;
    } else if ((b & 0xF0) == 0xE0 && cont(i + 1) && cont(i + 2)) {
      c = (b & 0x0Fu) << 12 | (s[i + 1] & 0x3Fu) << 6 | (s[i + 2] & 0x3F), len = 3;
    } else if ((b & 0xF8) == 0xF0 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
      c = (b & 0x07u) << 18 | (s[i + 1] & 0x3Fu) << 12 | (s[i + 2] & 0x3Fu) << 6 | (s[i + 3] & 0x3F);
      len = 4;
      if (c > 0x10FFFF) c = 0xFFFD;
    } else {
      c = 0xFFFD, len = 1;
    }
    out.push_back(c);
    i += len;
  }
  return out;
}

void append_utf8(uint32_t c, std::string& out) {
  if (c <= 0x7F) {
    out += static_cast<char>(c);
  } else if (c <= 0x7FF) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c <= 0xFFFF) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

namespace {

uint8_t classify(uint32_t c) {
  const uint32_t gc = U_GET_GC_MASK(static_cast<UChar32>(c));
  uint8_t f = 0;
  if (gc & U_GC_L_MASK) f |= kLetter;
  if (gc & U_GC_N_MASK) f |= kNumber;
  if (gc & U_GC_P_MASK) f |= kPunctuation;
  if (u_isUWhiteSpace(static_cast<UChar32>(c))) f |= kWhitespace;
  return f;
}

const std::array<uint8_t, 128>& ascii_classes() {
  static const std::array<uint8_t, 128> t = [] {
    std::array<uint8_t, 128> a{};
    for (uint32_t c = 0; c < 128; ++c) a[c] = classify(c);
    return a;
  }();
  return t;
}

struct Gpt2Map {
  std::array<std::string, 256> to_utf8;
  std::array<int16_t, 512> from_cpt;  // every GPT-2 character is below U+0200
  Gpt2Map() {
    from_cpt.fill(-1);
    auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); };
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const uint32_t c = printable(b) ? b : next++;
      append_utf8(c, to_utf8[b]);
      from_cpt[c] = static_cast<int16_t>(b);
    }
  }
};

const Gpt2Map& gpt2_map() {
  static const Gpt2Map m;
  return m;
}

}  // namespace

uint8_t cpt_class(uint32_t c) {
  if (c < 128) return ascii_classes()[c];
  if (c > 0x10FFFF) return 0;
  return classify(c);
}

uint32_t to_lower(uint32_t c) {
  if (c > 0x10FFFF) return c;
  return static_cast<uint32_t>(u_tolower(static_cast<UChar32>(c)));
}

const std::string& byte_to_gpt2(uint8_t b) { return gpt2_map().to_utf8[b]; }

int gpt2_to_byte(uint32_t c) { return c < 512 ? gpt2_map().from_cpt[c] : -1; }

}  // namespace lowbit::unicode
