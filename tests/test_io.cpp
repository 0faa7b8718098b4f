// File formats and data: safetensors round trips, a hand-built file, every corruption the reader
// rejects; atomic writes; gzipped IDX files; the real Fashion-MNIST; the DataLoader's epochs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <numeric>
#include <set>
#include <stdexcept>

#include "framework/io/atomic_file.h"
#include "framework/io/data_loader.h"
#include "framework/io/fashion_mnist.h"
#include "framework/io/idx.h"
#include "framework/io/safetensors.h"
#include "framework/ops/ops.h"
#include "tests/file_checks.h"

namespace minidl {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

void write_raw(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string read_text(const std::string& path) {
  const Bytes bytes = read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

// ---------------------------------------------------------------------------------------------
// safetensors

// A safetensors file from its parts, following the spec: u64 LE header length, header, data.
Bytes make_safetensors(const std::string& header, const Bytes& data) {
  Bytes out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(static_cast<uint64_t>(header.size()) >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

SafetensorsFile parse(const Bytes& bytes) { return parse_safetensors(bytes, "test.safetensors"); }

TEST(Safetensors, RoundTripOfDtypesViewsAndEmptyTensors) {
  TempDir dir;
  const std::string path = dir.file("t.safetensors");
  const Tensor f32 = Tensor::from_vector(std::vector<float>{1.5f, -2.25f, 3e-8f, 1e30f, -0.0f, 7.0f}, {2, 3});
  // A transposed view: the file must hold its values in the view's row-major order.
  const Tensor base = Tensor::from_vector(std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4});
  const Tensor f64_view = transpose(base, 0, 1);
  ASSERT_FALSE(f64_view.is_contiguous());
  const Tensor i64 = Tensor::from_vector(std::vector<int64_t>{INT64_MIN, -1, 0, 1, INT64_MAX}, {5});
  const Tensor u8 = Tensor::from_vector(std::vector<uint8_t>{0, 127, 128, 255}, {2, 2});
  const Tensor i32 = Tensor::from_vector(std::vector<int32_t>{-7}, {});
  const Tensor empty = Tensor::empty({0, 3}, DType::F32);
  const Tensor flags = to_dtype(Tensor::from_vector(std::vector<uint8_t>{1, 0, 1}, {3}), DType::Bool);
  const std::map<std::string, std::string> metadata{{"format", "pt"}, {"note", "héllo, \"quoted\"\n"}, {"empty", ""}};
  save_safetensors(path,
                   {{"f32", f32}, {"f64_view", f64_view}, {"i64", i64}, {"u8", u8}, {"i32", i32}, {"empty", empty},
                    {"flags", flags}},
                   metadata);

  const SafetensorsFile file = load_safetensors(path);
  EXPECT_EQ(file.metadata, metadata);
  std::vector<std::string> names;
  for (const auto& [name, t] : file.tensors) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"f32", "f64_view", "i64", "u8", "i32", "empty", "flags"}));

  const Tensor& g32 = file.at("f32");
  EXPECT_EQ(g32.dtype(), DType::F32);
  EXPECT_EQ(g32.shape(), (Shape{2, 3}));
  EXPECT_EQ(g32.to_vector<float>(), (std::vector<float>{1.5f, -2.25f, 3e-8f, 1e30f, -0.0f, 7.0f}));
  EXPECT_TRUE(std::signbit(g32.to_vector<float>()[4]));

  const Tensor& g64 = file.at("f64_view");
  EXPECT_EQ(g64.dtype(), DType::F64);
  EXPECT_EQ(g64.shape(), (Shape{4, 3}));
  EXPECT_TRUE(g64.is_contiguous());
  EXPECT_EQ(g64.to_vector<double>(), (std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));

  EXPECT_EQ(file.at("i64").to_vector<int64_t>(), (std::vector<int64_t>{INT64_MIN, -1, 0, 1, INT64_MAX}));
  EXPECT_EQ(file.at("u8").dtype(), DType::U8);
  EXPECT_EQ(file.at("u8").to_vector<int>(), (std::vector<int>{0, 127, 128, 255}));
  EXPECT_EQ(file.at("i32").shape(), Shape{});
  EXPECT_EQ(file.at("i32").item(), -7);
  EXPECT_EQ(file.at("empty").shape(), (Shape{0, 3}));
  EXPECT_EQ(file.at("empty").numel(), 0);
  EXPECT_EQ(file.at("flags").dtype(), DType::Bool);
  EXPECT_EQ(file.at("flags").to_vector<int>(), (std::vector<int>{1, 0, 1}));
  // Loaded tensors own their memory.
  EXPECT_NE(file.at("f32").storage().get(), f32.storage().get());
  EXPECT_ERROR(file.at("missing"), "no tensor named 'missing'", path);

  // The layout, read back independently of the reader: padded header, data tiled in save order.
  const Bytes bytes = read_file(path);
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  EXPECT_EQ(header_size % 8, 0u);
  const auto header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(header_size));
  EXPECT_EQ(header["f32"]["dtype"], "F32");
  EXPECT_EQ(header["f32"]["data_offsets"], nlohmann::json::array({0, 24}));
  EXPECT_EQ(header["f64_view"]["data_offsets"], nlohmann::json::array({24, 120}));
  EXPECT_EQ(header["flags"]["dtype"], "BOOL");
  EXPECT_EQ(header["__metadata__"]["format"], "pt");
  EXPECT_EQ(bytes.size(), 8 + header_size + 24 + 96 + 40 + 4 + 4 + 0 + 3);
}

TEST(Safetensors, NoTensorsNoMetadata) {
  TempDir dir;
  save_safetensors(dir.file("e.safetensors"), {}, {});
  const SafetensorsFile file = load_safetensors(dir.file("e.safetensors"));
  EXPECT_TRUE(file.tensors.empty());
  EXPECT_TRUE(file.metadata.empty());
}

TEST(Safetensors, HandBuiltFileParses) {
  // Written from the spec by hand, with an unpadded header and a non-alphabetical order.
  const std::string header =
      R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("a":{"dtype":"I64","shape":[1,1],"data_offsets":[8,16]},)"
      R"("__metadata__":{"k":"v"}})";
  const Bytes data = {0x00, 0x00, 0xc0, 0x3f,                          // 1.5f
                      0x00, 0x00, 0x00, 0xc0,                          // -2.0f
                      0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};  // int64 -3
  const SafetensorsFile file = parse(make_safetensors(header, data));
  ASSERT_EQ(file.tensors.size(), 2u);
  EXPECT_EQ(file.tensors[0].first, "b");
  EXPECT_EQ(file.tensors[1].first, "a");
  EXPECT_EQ(file.at("b").to_vector<float>(), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(file.at("a").shape(), (Shape{1, 1}));
  EXPECT_EQ(file.at("a").to_vector<int64_t>(), (std::vector<int64_t>{-3}));
  EXPECT_EQ(file.metadata, (std::map<std::string, std::string>{{"k", "v"}}));
}

// One tensor entry of a header, for the corruption cases.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return fmt::format(R"("{}":{{"dtype":{},"shape":{},"data_offsets":{}}})", name, dtype, shape, offsets);
}

TEST(Safetensors, CorruptFilesAreRejectedWithClearErrors) {
  const auto file_with = [](const std::string& header, const Bytes& data = Bytes(8, 0)) {
    return make_safetensors(header, data);
  };
  EXPECT_ERROR(parse(Bytes{1, 2, 3}), "test.safetensors", "too short");
  Bytes huge_header = file_with("{}");
  huge_header[0] = 0xe8;
  huge_header[1] = 0x03;  // 1000
  EXPECT_ERROR(parse(huge_header), "test.safetensors", "header length 1000", "beyond the end");
  // The parser's quote of the bad byte comes back escaped: the message stays ASCII.
  EXPECT_ERROR(parse(file_with("{\"a\xff\":1}")), "test.safetensors", "malformed header", "\\xFF");
  EXPECT_ERROR(parse(file_with("{\"a\":")), "test.safetensors", "malformed header");
  EXPECT_ERROR(parse(file_with("[1, 2]")), "test.safetensors", "expected an object");
  EXPECT_ERROR(parse(file_with(R"({"a":5})")), "tensor \"a\"", "not a JSON object");
  EXPECT_ERROR(parse(file_with(R"({"a\nb":5})")), R"(tensor "a\nb")");  // escaped: still one line
  EXPECT_ERROR(parse(file_with(R"({"a":{"shape":[2],"data_offsets":[0,8]}})")), "tensor \"a\"", "missing \"dtype\"");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"F16\"", "[4]", "[0,8]") + "}")), "test.safetensors",
               "tensor \"w\"", "unknown dtype \"F16\"", "F32, F64, BF16, I32, I64, U8, BOOL");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "7", "[2]", "[0,8]") + "}")), "tensor \"w\"", "dtype 7");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"F32\"", "[-2]", "[0,8]") + "}")), "tensor \"w\"",
               "shape [-2] is not a list of non-negative integers");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"F32\"", "[2.5]", "[0,8]") + "}")), "shape [2.5]");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"F32\"", "\"2\"", "[0,8]") + "}")), "shape \"2\"");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"F32\"", "[2]", "[0]") + "}")), "tensor \"w\"",
               "data_offsets [0] is not two non-negative integers");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"F32\"", "[2]", "[0,8,8]") + "}")), "data_offsets [0,8,8]");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"F32\"", "[2]", "[-1,8]") + "}")), "data_offsets [-1,8]");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"F32\"", "[0]", "[8,0]") + "}")), "tensor \"w\"",
               "begin after end");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"F32\"", "[4]", "[0,16]") + "}")), "tensor \"w\"",
               "end beyond the data section (8 bytes)");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"F32\"", "[3]", "[0,8]") + "}")), "tensor \"w\"",
               "8 bytes for F32 [3]: expected 12");
  // A shape whose byte count wraps around 2^64 must not pass as a small one.
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"F32\"", "[4611686018427387904, 4]", "[0,0]") + "}")),
               "tensor \"w\"", "expected more than 2^64");
  EXPECT_ERROR(parse(file_with("{" + entry("a", "\"F32\"", "[2]", "[0,8]") + "," +
                               entry("b", "\"F32\"", "[2]", "[4,12]") + "}",
                               Bytes(12, 0))),
               "tensors \"a\" [0, 8] and \"b\" [4, 12] overlap");
  EXPECT_ERROR(parse(file_with("{" + entry("a", "\"U8\"", "[4]", "[4,8]") + "}")),
               "bytes [0, 4) of the data section belong to no tensor");
  EXPECT_ERROR(parse(file_with("{" + entry("a", "\"U8\"", "[4]", "[0,4]") + "}")),
               "bytes [4, 8) of the data section belong to no tensor");
  EXPECT_ERROR(parse(file_with("{" + entry("a", "\"U8\"", "[8]", "[0,8]") + "," + entry("a", "\"U8\"", "[0]", "[0,0]") +
                               "}")),
               "header names \"a\" twice");
  EXPECT_ERROR(parse(file_with("{" + entry("m", "\"BOOL\"", "[8]", "[0,8]") + "}", Bytes{0, 1, 1, 0, 2, 0, 0, 0})),
               "tensor \"m\"", "BOOL element 4 is 2");
  EXPECT_ERROR(parse(file_with(R"({"__metadata__":{"k":1}})", {})), "__metadata__ value of \"k\" is 1",
               "expected a string");
  EXPECT_ERROR(parse(file_with(R"({"__metadata__":["k"]})", {})), "__metadata__ [\"k\"] is not a JSON object");
  // The same layout with valid BOOL bytes parses.
  EXPECT_NO_THROW(parse(file_with("{" + entry("m", "\"BOOL\"", "[8]", "[0,8]") + "}")));
}

TEST(Safetensors, EveryTruncationThrowsAndNothingCrashes) {
  TempDir dir;
  const std::string path = dir.file("t.safetensors");
  save_safetensors(path,
                   {{"a", Tensor::from_vector(std::vector<float>{1, 2, 3}, {3})},
                    {"e", Tensor::empty({0}, DType::I64)},
                    {"b", Tensor::from_vector(std::vector<int64_t>{4, 5}, {2, 1})}},
                   {{"k", "v"}});
  const Bytes bytes = read_file(path);
  ASSERT_NO_THROW(parse(bytes));
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_THROW(parse_safetensors(std::span<const uint8_t>(bytes.data(), n), "cut"), Error) << "cut at " << n;
  }
  // Mutated header bytes: either still a valid file or a minidl::Error, never anything else.
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  for (size_t pos = 0; pos < 8 + header_size; ++pos) {
    for (int v : {0, int{'0'}, int{'9'}, int{'-'}, int{'"'}, int{'}'}, 0xff}) {
      Bytes mutated = bytes;
      mutated[pos] = static_cast<uint8_t>(v);
      try {
        parse(mutated);
      } catch (const Error&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << "byte " << pos << " = " << v << ": " << e.what();
      }
    }
  }
  EXPECT_ERROR(load_safetensors(dir.file("none.safetensors")), "cannot open", dir.file("none.safetensors"));
}

// The loader-robustness cases not covered above: header lengths at the extremes, every kind of
// invalid UTF-8 and malformed JSON, numbers too big for u64, empty tensors out of range, nested
// and identical ranges, more dtype spellings, shapes whose element count overflows, and values
// too deep or too long to quote whole.
TEST(Safetensors, HostileHeadersAreRejectedWithClearErrors) {
  const auto file_with = [](const std::string& header, const Bytes& data = Bytes(8, 0)) {
    return make_safetensors(header, data);
  };
  Bytes max_length = file_with("{}");
  std::fill(max_length.begin(), max_length.begin() + 8, 0xff);
  EXPECT_ERROR(parse(max_length), "header length 18446744073709551615", "beyond the end of the file (18 bytes)");
  EXPECT_ERROR(parse(Bytes(8, 0)), "malformed header");  // header length 0
  EXPECT_ERROR(parse(file_with("")), "malformed header");
  EXPECT_ERROR(parse(file_with("   ")), "malformed header");
  EXPECT_ERROR(parse(file_with("{}x")), "malformed header");
  EXPECT_ERROR(parse(file_with("{} {}")), "malformed header");
  EXPECT_ERROR(parse(file_with(std::string("{}\0x", 4))), "malformed header", "a NUL byte at header offset 2");
  EXPECT_NO_THROW(parse(file_with("{}    ", {})));  // space padding is allowed
  // Invalid UTF-8: a truncated sequence in a metadata value, an overlong '/', an encoded
  // surrogate, a byte outside any string; and an escaped lone surrogate.
  EXPECT_ERROR(parse(file_with("{\"__metadata__\":{\"k\":\"\xc3\"}}", {})), "malformed header", "\\x");
  EXPECT_ERROR(parse(file_with("{\"\xc0\xaf\":1}")), "malformed header", "\\xC0");
  EXPECT_ERROR(parse(file_with("{\"\xed\xa0\x80\":1}")), "malformed header", "\\xED");
  EXPECT_ERROR(parse(file_with("{\xff}")), "malformed header", "\\xFF");
  EXPECT_ERROR(parse(file_with(R"({"\ud800":1})")), "malformed header", "surrogate");
  // Numbers that do not fit a u64 parse as floating point and are rejected as such.
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"U8\"", "[8]", "[0,18446744073709551616]") + "}")),
               "data_offsets [0,1.8446744073709552e+19] is not two non-negative integers");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"U8\"", "[18446744073709551616]", "[0,8]") + "}")),
               "shape [1.8446744073709552e+19] is not a list of non-negative integers");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"U8\"", "[9223372036854775808]", "[0,8]") + "}")),
               "shape [9223372036854775808]");
  // Out-of-range offsets, also for an empty tensor; nested and identical ranges overlap.
  EXPECT_ERROR(parse(file_with("{" + entry("e", "\"F32\"", "[0]", "[100,100]") + "," +
                               entry("a", "\"U8\"", "[8]", "[0,8]") + "}")),
               "tensor \"e\"", "data_offsets [100, 100] end beyond the data section (8 bytes)");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"U8\"", "[8]", "[18446744073709551615,18446744073709551615]") + "}")),
               "end beyond the data section");
  EXPECT_ERROR(parse(file_with("{" + entry("a", "\"U8\"", "[8]", "[0,8]") + "," + entry("b", "\"U8\"", "[4]", "[2,6]") +
                               "}")),
               "tensors \"a\" [0, 8] and \"b\" [2, 6] overlap");
  EXPECT_ERROR(parse(file_with("{" + entry("a", "\"U8\"", "[8]", "[0,8]") + "," + entry("b", "\"U8\"", "[8]", "[0,8]") +
                               "}")),
               "overlap");
  // Unknown dtypes, however close to a known one.
  for (const char* code : {"\"f32\"", "\"F16\"", "\"F8_E4M3\"", "\"\"", "\"F32 \"", "null", "[\"F32\"]"}) {
    EXPECT_ERROR(parse(file_with("{" + entry("w", code, "[2]", "[0,8]") + "}")), "tensor \"w\"", "dtype",
                 "expected one of F32, F64, BF16, I32, I64, U8, BOOL");
  }
  // Byte counts that disagree with the shape, including empty shapes.
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"F32\"", "[0]", "[0,8]") + "}")), "8 bytes for F32 [0]: expected 0");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"F64\"", "[]", "[0,4]") + "}", Bytes(4, 0))),
               "4 bytes for F64 []: expected 8");
  // An empty tensor whose other dims multiply beyond 2^63 elements: zero bytes, but no stride or
  // element count could hold it.
  EXPECT_ERROR(parse(file_with("{" + entry("z", "\"U8\"", "[0, 4294967296, 2147483648]", "[0,0]") + "}", {})),
               "tensor \"z\"", "shape [0, 4294967296, 2147483648] has more than 2^63 elements");
  EXPECT_ERROR(parse(file_with("{" + entry("z", "\"U8\"", "[4294967296, 2147483648, 0]", "[0,0]") + "}", {})),
               "more than 2^63 elements");
  EXPECT_EQ(parse(file_with("{" + entry("z", "\"U8\"", "[0, 4294967296, 2147483647]", "[0,0]") + "}", {}))
                .at("z")
                .numel(),
            0);
  // Nesting a million deep is refused while parsing (copying such a value would recurse a
  // million frames); values nested within the limit, or long strings, are quoted in part.
  const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  EXPECT_ERROR(parse(file_with("{\"__metadata__\":" + deep + "}", {})), "nests deeper than 32 levels");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"F32\"", deep, "[0,8]") + "}")), "nests deeper than 32 levels");
  const std::string nested = std::string(20, '[') + std::string(20, ']');
  EXPECT_ERROR(parse(file_with("{\"__metadata__\":" + nested + "}", {})),
               "__metadata__ [[[[[[[[...]]]]]]]] is not a JSON object");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"F32\"", nested, "[0,8]") + "}")), "shape [[[[[[[[...]]]]]]]]");
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"F32\"", "[" + std::string(40, '1') + "]", "[0,8]") + "}")),
               "shape [1.1111111111111112e+39]");
  std::string many = "[0";
  for (int i = 1; i < 100; ++i) many += "," + std::to_string(i);
  EXPECT_ERROR(parse(file_with("{" + entry("w", "\"F32\"", "[2]", many + "]") + "}")),
               "data_offsets [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,...] is not two");
  try {
    parse(file_with("{" + entry("w", "\"" + std::string(100000, 'x') + "\"", "[2]", "[0,8]") + "}"));
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_LT(std::string(e.what()).size(), 500u) << e.what();
    EXPECT_NE(std::string(e.what()).find("xxx...\""), std::string::npos) << e.what();
  }
  // A parse error inside a long string quotes only its start.
  try {
    parse(file_with("{\"" + std::string(100000, 'y') + "\xff\":1}"));
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_LT(std::string(e.what()).size(), 500u) << e.what();
    EXPECT_NE(std::string(e.what()).find("malformed header"), std::string::npos) << e.what();
  }
}

// The fuzzer's seed corpus (fuzz/make_corpus.py) is what its names say: valid_* files load,
// invalid_* files are rejected with a minidl::Error.
TEST(Safetensors, FuzzSeedCorpusIsWhatItsNamesSay) {
  const fs::path corpus = fs::path(MINIDL_TEST_DATA_DIR) / ".." / ".." / "fuzz" / "corpus" / "safetensors";
  int valid = 0, invalid = 0;
  for (const auto& entry : fs::directory_iterator(corpus)) {
    const std::string name = entry.path().filename().string();
    const Bytes bytes = read_file(entry.path().string());
    if (name.starts_with("valid_")) {
      EXPECT_NO_THROW(parse(bytes)) << name;
      ++valid;
    } else {
      EXPECT_TRUE(name.starts_with("invalid_")) << name;
      EXPECT_THROW(parse(bytes), Error) << name;
      ++invalid;
    }
  }
  EXPECT_GE(valid, 4);
  EXPECT_GE(invalid, 8);
}

TEST(Safetensors, SaveRejectsBadNamesAndKeepsThePreviousFile) {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  const Tensor x = Tensor::zeros({2});
  save_safetensors(path, {{"x", x}}, {});
  const Bytes before = read_file(path);
  EXPECT_ERROR(save_safetensors(path, {{"x", x}, {"x", x}}, {}), path, "duplicate tensor name 'x'");
  EXPECT_ERROR(save_safetensors(path, {{"__metadata__", x}}, {}), path, "reserved");
  EXPECT_ERROR(save_safetensors(path, {{"bad\xff", x}}, {}), path, "valid UTF-8");
  EXPECT_ERROR(save_safetensors(path, {{"u", Tensor()}}, {}), "tensor 'u' is undefined");
  EXPECT_EQ(read_file(path), before);
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"m.safetensors"});
  EXPECT_ERROR(save_safetensors(dir.file("no/such/dir.safetensors"), {{"x", x}}, {}),
               dir.file("no/such/dir.safetensors"), "No such file or directory");
}

// ---------------------------------------------------------------------------------------------
// Atomic files

TEST(AtomicFile, ReplacesWholeFileOrNothing) {
  TempDir dir;
  const std::string path = dir.file("f.txt");
  write_file_atomically(path, [](std::FILE* f) { std::fputs("old content", f); });
  EXPECT_EQ(read_text(path), "old content");

  EXPECT_THROW(write_file_atomically(path,
                                     [](std::FILE* f) {
                                       std::fputs("half of the new", f);
                                       throw std::runtime_error("writer failed");
                                     }),
               std::runtime_error);
  EXPECT_EQ(read_text(path), "old content");
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"f.txt"});

  write_file_atomically(path, [](std::FILE* f) { std::fputs("new", f); });
  EXPECT_EQ(read_text(path), "new");
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"f.txt"});

  // A full disk: the stream's writes fail, the error names the path, and the old file stays.
  EXPECT_ERROR(write_file_atomically(path,
                                     [](std::FILE* f) {
                                       const int full = ::open("/dev/full", O_WRONLY);
                                       ASSERT_GE(full, 0);
                                       ::dup2(full, ::fileno(f));
                                       ::close(full);
                                       std::fputs("never stored", f);
                                     }),
               "cannot write", path, "No space left on device");
  EXPECT_EQ(read_text(path), "new");
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"f.txt"});
}

TEST(AtomicFile, ReadErrorsNameTheFile) {
  TempDir dir;
  EXPECT_ERROR(read_file(dir.file("missing")), "cannot open", dir.file("missing"), "No such file or directory");
  EXPECT_ERROR(write_file_atomically(dir.file("missing/f"), [](std::FILE*) {}), "cannot write", dir.file("missing/f"));
  EXPECT_EQ(read_file("/dev/null"), Bytes{});
}

// ---------------------------------------------------------------------------------------------
// IDX

void write_gz(const std::string& path, const Bytes& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  }
  ASSERT_EQ(gzclose(f), Z_OK);
}

// An IDX file: magic (two zero bytes, type, dim count), big-endian u32 dims, payload.
Bytes make_idx(uint8_t type, const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes out = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<uint8_t>(d >> shift));
  }
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Bytes iota_bytes(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7 + 3);
  return b;
}

TEST(Idx, ReadsGzippedAndPlainFiles) {
  TempDir dir;
  write_gz(dir.file("a.gz"), make_idx(0x08, {2, 3, 300}, iota_bytes(1800)));
  const IdxArray a = read_idx_u8(dir.file("a.gz"));
  EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 3, 300}));
  EXPECT_EQ(a.data, iota_bytes(1800));

  write_gz(dir.file("b.gz"), make_idx(0x08, {0x00010203}, iota_bytes(0x00010203)));
  EXPECT_EQ(read_idx_u8(dir.file("b.gz")).dims, std::vector<int64_t>{66051});

  write_raw(dir.file("plain"), make_idx(0x08, {5}, iota_bytes(5)));
  EXPECT_EQ(read_idx_u8(dir.file("plain")).data, iota_bytes(5));

  write_gz(dir.file("empty.gz"), make_idx(0x08, {0, 28}, {}));
  EXPECT_EQ(read_idx_u8(dir.file("empty.gz")).dims, (std::vector<int64_t>{0, 28}));
}

TEST(Idx, BadFilesThrowNamingTheFile) {
  TempDir dir;
  const std::string f = dir.file("t10k-labels-idx1-ubyte.gz");
  write_gz(f, make_idx(0x09, {3}, iota_bytes(3)));
  EXPECT_ERROR(read_idx_u8(f), f, "bad magic 0x00000901: expected 0x0000080N (unsigned bytes)");
  write_gz(f, {1, 0, 8, 1, 0, 0, 0, 0});
  EXPECT_ERROR(read_idx_u8(f), f, "bad magic 0x01000801");
  write_gz(f, make_idx(0x08, {}, {}));
  EXPECT_ERROR(read_idx_u8(f), f, "0 dimensions, expected 1 to 4");
  write_gz(f, make_idx(0x08, {1, 1, 1, 1, 1}, {7}));
  EXPECT_ERROR(read_idx_u8(f), f, "5 dimensions, expected 1 to 4");
  write_gz(f, {0, 0});
  EXPECT_ERROR(read_idx_u8(f), f, "truncated header: expected 4 bytes, got 2");
  write_gz(f, Bytes{0, 0, 8, 2, 0, 0, 0, 10, 0, 0});
  EXPECT_ERROR(read_idx_u8(f), f, "truncated header: expected 4 bytes, got 2");
  write_gz(f, make_idx(0x08, {10, 10}, iota_bytes(99)));
  EXPECT_ERROR(read_idx_u8(f), f, "truncated data: dimensions [10, 10] need 100 bytes, got 99");
  write_gz(f, make_idx(0x08, {10, 10}, iota_bytes(101)));
  EXPECT_ERROR(read_idx_u8(f), f, "trailing bytes after the 100 bytes of data");
  write_gz(f, make_idx(0x08, {0xffffffff, 0xffffffff}, {}));
  EXPECT_ERROR(read_idx_u8(f), f, "more than 2^40 values");
  EXPECT_ERROR(read_idx_u8(dir.file("missing.gz")), "cannot open", dir.file("missing.gz"), "No such file");
  EXPECT_ERROR(read_idx_u8(dir.file("")), "cannot read", dir.file(""));  // the directory itself
}

TEST(Idx, CorruptGzipReportsZlibsError) {
  TempDir dir;
  const std::string good = dir.file("good.gz");
  Bytes payload(4000);
  uint32_t state = 12345;  // incompressible bytes, so the compressed stream is long enough to cut
  for (uint8_t& b : payload) b = static_cast<uint8_t>((state = state * 1664525u + 1013904223u) >> 24);
  write_gz(good, make_idx(0x08, {4000}, payload));
  ASSERT_EQ(read_idx_u8(good).data, payload);
  const Bytes gz = read_file(good);

  const std::string cut = dir.file("cut.gz");
  write_raw(cut, Bytes(gz.begin(), gz.begin() + static_cast<long>(gz.size() / 2)));
  EXPECT_ERROR(read_idx_u8(cut), cut, "corrupt gzip data: unexpected end of file");

  const std::string flipped = dir.file("flipped.gz");
  Bytes bad = gz;
  bad[gz.size() / 2] ^= 0x5a;
  write_raw(flipped, bad);
  EXPECT_ERROR(read_idx_u8(flipped), flipped, "corrupt gzip data");

  const std::string no_trailer = dir.file("no_trailer.gz");
  write_raw(no_trailer, Bytes(gz.begin(), gz.end() - 4));
  EXPECT_ERROR(read_idx_u8(no_trailer), no_trailer, "corrupt gzip data");
}

// ---------------------------------------------------------------------------------------------
// Fashion-MNIST

TEST(FashionMnist, RealDatasetHasItsKnownProperties) {
  ASSERT_TRUE(fs::is_directory(kDefaultFashionMnistDir))
      << kDefaultFashionMnistDir << " is missing: install the Debian package dataset-fashion-mnist";
  for (bool train : {true, false}) {
    const Dataset d = load_fashion_mnist(kDefaultFashionMnistDir, train);
    const int64_t n = train ? 60000 : 10000;
    EXPECT_EQ(d.images.shape(), (Shape{n, 784}));
    EXPECT_EQ(d.images.dtype(), DType::F32);
    EXPECT_EQ(d.labels.shape(), (Shape{n}));
    EXPECT_EQ(d.labels.dtype(), DType::I64);
    // The classes are exactly balanced: 6000 per class in train and 1000 in test.
    std::vector<int64_t> histogram(10, 0);
    for (int64_t label : d.labels.to_vector<int64_t>()) histogram.at(static_cast<size_t>(label))++;
    EXPECT_EQ(histogram, std::vector<int64_t>(10, n / 10));
    if (train) {
      EXPECT_EQ(d.labels.to_vector<int64_t>()[0], 9);  // the first training image is an ankle boot
      // The constants are the training pixels' mean and std: normalized, they are ~0 and ~1.
      double sum = 0, sum_sq = 0;
      const float* p = d.images.data<float>();
      for (int64_t i = 0; i < d.images.numel(); ++i) {
        sum += p[i];
        sum_sq += static_cast<double>(p[i]) * p[i];
      }
      const double mean = sum / static_cast<double>(d.images.numel());
      EXPECT_NEAR(mean, 0.0, 2e-3);
      EXPECT_NEAR(std::sqrt(sum_sq / static_cast<double>(d.images.numel()) - mean * mean), 1.0, 2e-3);
    }
    const std::vector<float> v = d.images.to_vector<float>();
    EXPECT_FLOAT_EQ(*std::min_element(v.begin(), v.end()), static_cast<float>(-kFashionMnistMean / kFashionMnistStd));
    EXPECT_FLOAT_EQ(*std::max_element(v.begin(), v.end()),
                    static_cast<float>((1 - kFashionMnistMean) / kFashionMnistStd));
  }
}

void write_fake_split(const TempDir& dir, const std::string& split, uint32_t n_images, const Bytes& labels) {
  write_gz(dir.file(split + "-images-idx3-ubyte.gz"), make_idx(0x08, {n_images, 28, 28}, iota_bytes(n_images * 784)));
  write_gz(dir.file(split + "-labels-idx1-ubyte.gz"),
           make_idx(0x08, {static_cast<uint32_t>(labels.size())}, labels));
}

TEST(FashionMnist, SmallFilesLoadAndBadOnesAreRejected) {
  TempDir dir;
  write_fake_split(dir, "t10k", 3, {0, 9, 4});
  const Dataset d = load_fashion_mnist(dir.file(""), false);
  EXPECT_EQ(d.images.shape(), (Shape{3, 784}));
  EXPECT_EQ(d.labels.to_vector<int64_t>(), (std::vector<int64_t>{0, 9, 4}));
  const Bytes raw = iota_bytes(3 * 784);
  const std::vector<float> pixels = d.images.to_vector<float>();
  for (size_t i = 0; i < raw.size(); ++i) {
    ASSERT_FLOAT_EQ(pixels[i], static_cast<float>((raw[i] / 255.0 - 0.2860) / 0.3530)) << i;
  }

  EXPECT_ERROR(load_fashion_mnist(dir.file(""), true), "cannot open", "train-images-idx3-ubyte.gz");
  write_fake_split(dir, "train", 3, {0, 1});
  EXPECT_ERROR(load_fashion_mnist(dir.file(""), true), "holds 3 images but", "holds 2 labels");
  write_fake_split(dir, "train", 2, {0, 10});
  EXPECT_ERROR(load_fashion_mnist(dir.file(""), true), "train-labels-idx1-ubyte.gz", "label 10 at index 1",
               "expected 0 to 9");
  write_gz(dir.file("train-images-idx3-ubyte.gz"), make_idx(0x08, {2, 28, 27}, iota_bytes(2 * 28 * 27)));
  EXPECT_ERROR(load_fashion_mnist(dir.file(""), true), "train-images-idx3-ubyte.gz", "images of shape [2, 28, 27]",
               "expected [N, 28, 28]");
  EXPECT_ERROR(load_fashion_mnist(dir.file("nowhere"), true), dir.file("nowhere"), "does not exist",
               "dataset-fashion-mnist");
  EXPECT_ERROR(load_fashion_mnist(dir.file("t10k-labels-idx1-ubyte.gz"), true), "is not a directory");
}

// ---------------------------------------------------------------------------------------------
// DataLoader

// Inputs [n, 2, 3] f64 whose row i holds 100 * i + j, and targets i64 = i.
struct Samples {
  Tensor inputs, targets;
};

Samples make_samples(int64_t n) {
  std::vector<double> x;
  std::vector<int64_t> y;
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < 6; ++j) x.push_back(static_cast<double>(100 * i + j));
    y.push_back(i);
  }
  return {Tensor::from_vector(x, {n, 2, 3}), Tensor::from_vector(y, {n})};
}

// The targets of every batch of one epoch, checking each row's inputs match its target.
std::vector<int64_t> epoch_order(DataLoader& loader, int64_t batch_size, int64_t n) {
  loader.start_epoch();
  std::vector<int64_t> order;
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    const DataLoader::Batch batch = loader.batch(b);
    const int64_t expected = b + 1 < loader.num_batches() ? batch_size : n - b * batch_size;
    EXPECT_EQ(batch.inputs.shape(), (Shape{expected, 2, 3}));
    EXPECT_EQ(batch.targets.shape(), (Shape{expected}));
    const std::vector<double> x = batch.inputs.to_vector<double>();
    const std::vector<int64_t> y = batch.targets.to_vector<int64_t>();
    for (size_t r = 0; r < y.size(); ++r) {
      for (size_t j = 0; j < 6; ++j) EXPECT_EQ(x[r * 6 + j], static_cast<double>(100 * y[r] + static_cast<int64_t>(j)));
    }
    order.insert(order.end(), y.begin(), y.end());
  }
  return order;
}

TEST(DataLoader, EachEpochCoversEverySampleOnceInASeededOrder) {
  const int64_t n = 103, batch = 10;
  const Samples s = make_samples(n);
  std::vector<int64_t> all(n);
  std::iota(all.begin(), all.end(), 0);

  Generator gen_a(7, 1), gen_b(7, 1), gen_c(8, 1);
  DataLoader a(s.inputs, s.targets, batch, true, gen_a), b(s.inputs, s.targets, batch, true, gen_b),
      c(s.inputs, s.targets, batch, true, gen_c);
  EXPECT_EQ(a.num_batches(), 11);
  EXPECT_EQ(a.size(), n);
  std::set<std::vector<int64_t>> seen;
  for (int epoch = 0; epoch < 3; ++epoch) {
    const std::vector<int64_t> oa = epoch_order(a, batch, n), ob = epoch_order(b, batch, n),
                               oc = epoch_order(c, batch, n);
    std::vector<int64_t> sorted = oa;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, all) << "epoch " << epoch;
    EXPECT_EQ(oa, ob) << "same seed, same order";
    EXPECT_NE(oa, oc) << "different seed, different order";
    EXPECT_NE(oa, all) << "shuffled";
    EXPECT_TRUE(seen.insert(oa).second) << "a new order each epoch";
  }
  // The last batch holds the remainder.
  EXPECT_EQ(a.batch(a.num_batches() - 1).targets.numel(), n % batch);
}

TEST(DataLoader, EveryPermutationIsEquallyLikely) {
  // 60000 epochs of 3 samples: each of the 6 orders about 10000 times (sigma ~91). A common
  // wrong shuffle (swapping with any position, not just the ones before) is off by ~1100.
  const Samples s = make_samples(3);
  Generator gen(3, 1);
  DataLoader loader(s.inputs, s.targets, 3, true, gen);
  std::map<std::vector<int64_t>, int> counts;
  for (int epoch = 0; epoch < 60000; ++epoch) {
    loader.start_epoch();
    counts[loader.batch(0).targets.to_vector<int64_t>()]++;
  }
  EXPECT_EQ(counts.size(), 6u);
  for (const auto& [order, count] : counts) EXPECT_NEAR(count, 10000, 500) << order[0] << order[1] << order[2];
}

TEST(DataLoader, UnshuffledKeepsOrderAndValidates) {
  const Samples s = make_samples(8);
  Generator gen(0);
  DataLoader loader(s.inputs, s.targets, 4, false, gen);
  EXPECT_EQ(epoch_order(loader, 4, 8), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(gen.offset(), 0u);  // no draws without shuffling

  // A slice of the data (a view with an offset) loads its own rows.
  DataLoader part(slice(s.inputs, 0, 2, 5), slice(s.targets, 0, 2, 5), 2, false, gen);
  EXPECT_EQ(epoch_order(part, 2, 3), (std::vector<int64_t>{2, 3, 4}));

  EXPECT_ERROR(DataLoader(s.inputs, s.targets, 0, true, gen), "batch size 0 must be positive");
  EXPECT_ERROR(DataLoader(s.inputs, slice(s.targets, 0, 0, 7), 2, true, gen), "8 inputs", "7 targets");
  EXPECT_ERROR(loader.batch(2), "batch 2 is out of range: there are 2 batches");
  EXPECT_ERROR(loader.batch(-1), "out of range");
}

}  // namespace
}  // namespace minidl
