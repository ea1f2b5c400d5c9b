// Calibration and calibrated quantization as a user runs them: the imatrix written by
// `calibrate` is llama.cpp's format and feeds `quantize --imatrix`; an interrupted quantization
// leaves no output and no temp file behind.
#include <filesystem>

#include <gtest/gtest.h>

#include "calib/imatrix_io.h"
#include "core/paths.h"
#include "harness.h"

namespace lowbit::e2e {
namespace {
namespace fs = std::filesystem;

TEST(Calibrate, ImatrixFeedsQuantize) {
  const std::string im = temp_dir() + "/stories.imatrix.gguf";
  auto r = run_cmd(quote(lowbit_bin()) + " calibrate " + quote(shared_path("models/stories260K.bin")) + " -f " +
                   quote(shared_path("data/tinystories/calib.txt")) + " -o " + quote(im) + " --n-seq 8 --seq-len 128");
  ASSERT_EQ(r.status, 0) << r.out;
  const Imatrix m = imatrix_read(im);
  ASSERT_EQ(m.chunk_count, 8);
  const auto imp = m.importance("blk.0.ffn_down.weight");
  ASSERT_EQ(imp.size(), 172u);
  for (float v : imp) EXPECT_GE(v, 0.0f);
  EXPECT_EQ(m.importance("output.weight").size(), 64u);
  const std::string out = temp_dir() + "/stories-im.gguf";
  r = run_cmd(quote(lowbit_bin()) + " quantize " + quote(shared_path("models/stories260K.bin")) + " " + quote(out) +
              " --type Q4_0 --imatrix " + quote(im) + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("\"method\": \"imatrix\""), std::string::npos) << r.out;
}

TEST(Calibrate, InterruptedQuantizationLeavesNothing) {
  const std::string dir = temp_dir() + "/interrupt";
  fs::create_directories(dir);
  const std::string out = dir + "/x.gguf";
  auto r = run_cmd("timeout -s INT 1 " + quote(lowbit_bin()) + " quantize " +
                   quote(shared_path("models/tinystories-llama-6m")) + " " + quote(out) +
                   " --type Q4_0 --method gptq --calib " + quote(shared_path("data/tinystories/calib.txt")));
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_TRUE(fs::is_empty(dir)) << "output or temp file left behind";
}

}  // namespace
}  // namespace lowbit::e2e
