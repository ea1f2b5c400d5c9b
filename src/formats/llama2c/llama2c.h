// karpathy/llama2.c checkpoints (v0 "legacy" export) and tokenizer.bin.
//
// Checkpoint: 7 x i32 header {dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
// seq_len}; vocab_size < 0 means an unshared classifier (wcls at the end). Then f32 arrays:
// token_embedding [vocab][dim], rms_att [L][dim], wq [L][dim][dim], wk [L][kv_dim][dim],
// wv [L][kv_dim][dim], wo [L][dim][dim], rms_ffn [L][dim], w1 [L][hidden][dim],
// w2 [L][dim][hidden], w3 [L][hidden][dim], rms_final [dim], freq_cis_real/imag
// [seq_len][head_size/2] (unused: RoPE is recomputed), then wcls [vocab][dim] if unshared.
// Matrices are [out][in] row-major, i.e. ggml ne = {in, out}. RoPE rotates adjacent pairs.
//
// tokenizer.bin: i32 max_token_length, then per token {f32 score, i32 len, len bytes}.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor_ref.h"
#include "core/vocab.h"

namespace lowbit {

struct Llama2cCheckpoint {
  int dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0, seq_len = 0;
  bool shared_classifier = true;
  // GGUF names, F32, pointing into the map: token_embd.weight, blk.N.attn_norm.weight,
  // blk.N.attn_q/k/v/output.weight, blk.N.ffn_norm.weight, blk.N.ffn_gate (w1) / ffn_down (w2)
  // / ffn_up (w3).weight, output_norm.weight, and output.weight if unshared.
  std::vector<TensorRef> tensors;
  std::shared_ptr<MappedFile> map;
};

// Validates header values (positive, heads divide dim, kv heads divide heads, sizes
// overflow-checked) and that the file holds exactly the bytes the header implies (allowing
// the freq_cis tables); errors name the file, byte offset and field.
Llama2cCheckpoint llama2c_read(const std::string& path);

// Vocab (VocabKind::Spm) from tokenizer.bin: pieces have ' ' mapped back to "▁"; "<0xNN>"
// pieces are byte tokens, id 0 <unk> unknown, ids 1/2 <s> </s> control (bos 1, eos 2).
Vocab llama2c_read_tokenizer(const std::string& path, int vocab_size);

// tokenizer.bin beside the checkpoint, else the only tok*.bin there; "" if none / ambiguous.
std::string llama2c_find_tokenizer(const std::string& checkpoint_path);

}  // namespace lowbit
