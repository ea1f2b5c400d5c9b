// AtomicDir: a directory appears whole on commit() or not at all, and replaces only a
// directory that holds nothing but files it would write itself.
#include "core/atomic_dir.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/temp_dir_testing.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;

using Dir = testing::TempDir;

void put(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }
std::string get(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

TEST(AtomicDir, CommitRenamesTheWholeDirectoryIntoPlace) {
  Dir d;
  const std::string out = (d.path() / "model").string();
  {
    AtomicDir a(out);
    put(a.file("config.json"), "{}");
    put(a.file("model.safetensors"), "x");
    EXPECT_FALSE(fs::exists(out));
    a.commit();
  }
  EXPECT_EQ(get(fs::path(out) / "config.json"), "{}");
  EXPECT_EQ(std::distance(fs::directory_iterator(d.path()), {}), 1);   // no temp left beside it
}

TEST(AtomicDir, NoCommitLeavesNothing) {
  Dir d;
  {
    AtomicDir a((d.path() / "model").string());
    put(a.file("config.json"), "{}");
    EXPECT_TRUE(fs::is_directory(a.temp_path()));
  }
  EXPECT_TRUE(fs::is_empty(d.path()));
}

TEST(AtomicDir, ReplacesOnlyADirectoryOfItsOwnFiles) {
  Dir d;
  const std::string out = (d.path() / "model").string();
  fs::create_directory(out);
  put(out + "/config.json", "old");
  put(out + "/tokenizer.json", "old");
  {
    AtomicDir a(out, {"tokenizer.json"});
    put(a.file("config.json"), "new");
    a.commit();
  }
  EXPECT_EQ(get(fs::path(out) / "config.json"), "new");
  EXPECT_FALSE(fs::exists(fs::path(out) / "tokenizer.json"));   // the old directory is gone whole
  EXPECT_EQ(std::distance(fs::directory_iterator(d.path()), {}), 1);

  put(out + "/notes.txt", "mine");
  {
    AtomicDir a(out);
    put(a.file("config.json"), "newer");
    try {
      a.commit();
      ADD_FAILURE() << "replaced a directory holding a foreign file";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("notes.txt"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(get(fs::path(out) / "notes.txt"), "mine");
  EXPECT_EQ(get(fs::path(out) / "config.json"), "new");
  EXPECT_EQ(std::distance(fs::directory_iterator(d.path()), {}), 1);

  const std::string plain = (d.path() / "file").string();
  put(plain, "x");
  AtomicDir a(plain);
  EXPECT_THROW(a.commit(), Error);
  EXPECT_EQ(get(plain), "x");
}

TEST(AtomicDir, FileNamesMustBePlain) {
  Dir d;
  AtomicDir a((d.path() / "m").string());
  EXPECT_THROW(a.file("../escape"), Error);
  EXPECT_THROW(a.file(".."), Error);
  EXPECT_THROW(a.file(""), Error);
}

}  // namespace
}  // namespace lowbit
