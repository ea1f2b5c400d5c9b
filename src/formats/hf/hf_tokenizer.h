// Hugging Face tokenizer.json (the "tokenizers" library's serialisation) -> Vocab.
// Supports model.type == "BPE" in two styles:
//  - byte-level (GPT-2): pre_tokenizer ByteLevel (possibly inside a Sequence) -> VocabKind::Bpe
//    with merges; pre is "gpt-2" unless the Split regex says llama-3 style ("llama-bpe").
//  - SentencePiece style: normalizer replaces " " with "▁" (and may prepend it), byte_fallback
//    true, <0xNN> tokens -> VocabKind::Spm, scores derived from merge rank (earlier = higher).
// added_tokens set token types (special -> control, else user-defined); bos/eos come from
// tokenizer_config.json beside it when present (bos_token / eos_token / add_bos_token), else
// from the post_processor template. Ids the file leaves unused become "[PAD{id}]" tokens of
// type unused. Anything the encoder could not reproduce (another model type, pre-tokenizer
// or normalizer, an unknown Split regex) is an Error naming the file and field, as is any
// field of the wrong type. hf_tokenizer.cc documents how SPM scores are derived.
#pragma once

#include <string>

#include "core/vocab.h"

namespace lowbit {

Vocab hf_read_tokenizer(const std::string& tokenizer_json, const std::string& tokenizer_config_json = "");

}  // namespace lowbit
