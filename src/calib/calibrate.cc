#include "calib/calibrate.h"

#include "core/error.h"
#include "core/progress.h"
#include "formats/gguf/gguf.h"

namespace lowbit {

void run_calibration(LlamaModel& model, const CalibData& data, CalibStats& stats, bool progress) {
  model.set_hook(&stats);
  std::vector<float> logits;
  Progress bar("calibrate", data.seqs.size(), progress);
  try {
    for (const auto& seq : data.seqs) {
      model.reset();
      model.eval(seq, /*all_logits=*/true, logits);   // all rows: the output projection is calibrated too
      bar.add();
    }
  } catch (...) {
    model.set_hook(nullptr);
    throw;
  }
  model.set_hook(nullptr);
  stats.imatrix.chunk_count = static_cast<int>(data.seqs.size());
  stats.imatrix.chunk_size = data.seqs.empty() ? 0 : static_cast<int>(data.seqs[0].size());
  stats.imatrix.datasets = data.sources;
}

void save_calibration(const std::string& path, const CalibStats& stats, const CalibData& data, int seq_len) {
  const bool dat = path.size() > 4 && path.compare(path.size() - 4, 4, ".dat") == 0;
  if (dat) {
    imatrix_write_dat(path, stats.imatrix);
    return;
  }
  imatrix_write_gguf(path, stats.imatrix);
  // Append lowbit's activation statistics as metadata (a second pass keeps imatrix_io
  // ignorant of them): per input, channel absmax and the observer ranges.
  GgufFile g = gguf_read(path);
  std::vector<std::vector<uint8_t>> keep;
  for (const auto& [key, s] : stats.inputs) {
    const std::string base = fmt::format("lowbit.act.{}.{}", key.first < 0 ? std::string("output") : "blk." + std::to_string(key.first),
                                         linear_input_name(key.second));
    g.set(base + ".absmax", GgufValue::make_f32_array(s.absmax));
    std::vector<float> ranges;
    for (ObserverKind k : {ObserverKind::MinMax, ObserverKind::MovingAverageMinMax, ObserverKind::Percentile,
                           ObserverKind::Mse, ObserverKind::Entropy}) {
      const Range r = observer_range(k, s.observer);
      ranges.push_back(r.lo);
      ranges.push_back(r.hi);
    }
    g.set(base + ".ranges", GgufValue::make_f32_array(ranges));   // minmax, ema, percentile, mse, entropy (lo, hi)
  }
  g.set("lowbit.calib.seq_len", GgufValue::make_u32(seq_len));
  g.set("lowbit.calib.n_seq", GgufValue::make_u32(static_cast<uint32_t>(data.seqs.size())));
  gguf_write(path, g);
}

}  // namespace lowbit
