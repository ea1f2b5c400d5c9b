// The mapping between lowbit's model description (ModelConfig, Vocab) and GGUF metadata
// keys as llama.cpp reads them ("llama.embedding_length", "tokenizer.ggml.tokens", ...).
#pragma once

#include "formats/gguf/gguf.h"
#include "model/config.h"
#include "core/vocab.h"

namespace lowbit {

ModelConfig config_from_gguf(const GgufFile& f, const std::string& path);
Vocab vocab_from_gguf(const GgufFile& f, const std::string& path);
bool gguf_has_vocab(const GgufFile& f);

// Writes general.*, <arch>.* and tokenizer.ggml.* keys into f (replacing existing ones).
void config_to_gguf(const ModelConfig& c, GgufFile& f);
void vocab_to_gguf(const Vocab& v, GgufFile& f);

}  // namespace lowbit
