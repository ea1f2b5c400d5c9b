// Runs calibration sequences through the model and gathers CalibStats; saves them as a
// llama.cpp imatrix (GGUF, or legacy .dat by extension) with lowbit's activation
// statistics added as "lowbit.act.*" metadata arrays (which llama.cpp ignores).
#pragma once

#include <string>

#include "calib/dataset.h"
#include "calib/stats.h"

namespace lowbit {

void run_calibration(LlamaModel& model, const CalibData& data, CalibStats& stats, bool progress);
void save_calibration(const std::string& path, const CalibStats& stats, const CalibData& data, int seq_len);

}  // namespace lowbit
