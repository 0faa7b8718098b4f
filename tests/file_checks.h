// Pieces the suites share: error checks that name the expected phrases, and a temporary directory
// removed with its contents at the end of a test.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include "framework/core/check.h"

namespace minidl {

// Runs fn, checks that the minidl::Error it throws is one line mentioning every phrase, and rethrows it.
template <typename Fn>
void throws_mentioning(Fn&& fn, std::initializer_list<std::string> phrases) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& phrase : phrases) {
      EXPECT_NE(message.find(phrase), std::string::npos) << "'" << message << "' lacks '" << phrase << "'";
    }
    EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
    throw;
  }
}

#define EXPECT_ERROR(stmt, ...) EXPECT_THROW(throws_mentioning([&] { stmt; }, {__VA_ARGS__}), Error)

// The same for a callable: fn throws one line of minidl::Error mentioning phrase.
inline void expect_error(const std::function<void()>& fn, const std::string& phrase) {
  EXPECT_THROW(throws_mentioning(fn, {phrase}), Error);
}

// A fresh directory under the test temp dir, removed with everything in it at the end of the test.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "minidl_test") {
    std::string tmpl = (std::filesystem::path(testing::TempDir()) / (prefix + "_XXXXXX")).string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace minidl
