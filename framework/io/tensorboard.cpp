#include "framework/io/tensorboard.h"

#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "framework/core/check.h"

namespace minidl {

namespace {

// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), a byte at a time: entry b is the CRC
// register after shifting b through it bit by bit.
constexpr std::array<uint32_t, 256> kCrc32cTable = [] {
  std::array<uint32_t, 256> table{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    table[byte] = crc;
  }
  return table;
}();

// TFRecord stores CRCs masked, so that a CRC of data that holds CRCs is not degenerate.
uint32_t masked_crc32c(std::string_view bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (const unsigned char byte : bytes) crc = kCrc32cTable[(crc ^ byte) & 0xFFu] ^ (crc >> 8);
  crc = ~crc;
  return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
}

// Field numbers of TensorFlow's event.proto and summary.proto.
constexpr uint32_t kEventWallTime = 1, kEventStep = 2, kEventFileVersion = 3, kEventSummary = 5;
constexpr uint32_t kSummaryValue = 1;
constexpr uint32_t kValueTag = 1, kValueSimpleValue = 2;

// Protobuf's wire format: each field is a key, (field number << 3) | wire type, then its value.
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void put_varint(std::string& out, uint64_t value) {
  for (; value >= 0x80; value >>= 7) out += static_cast<char>((value & 0x7F) | 0x80);
  out += static_cast<char>(value);
}

template <typename Word>
void put_little_endian(std::string& out, Word word) {
  for (size_t i = 0; i < sizeof(Word); ++i) out += static_cast<char>((word >> (8 * i)) & 0xFF);
}

void put_key(std::string& out, uint32_t field, WireType type) { put_varint(out, (field << 3) | type); }

void put_double(std::string& out, uint32_t field, double value) {
  put_key(out, field, kFixed64);
  put_little_endian(out, std::bit_cast<uint64_t>(value));
}

void put_float(std::string& out, uint32_t field, float value) {
  put_key(out, field, kFixed32);
  put_little_endian(out, std::bit_cast<uint32_t>(value));
}

// An int64 is a varint of its two's complement (ten bytes when negative).
void put_int64(std::string& out, uint32_t field, int64_t value) {
  put_key(out, field, kVarint);
  put_varint(out, static_cast<uint64_t>(value));
}

// Strings and embedded messages: the length, then the bytes.
void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out += bytes;
}

// An Event holding only its wall time, in seconds since the epoch; the caller adds the rest.
std::string event_at_wall_time() {
  std::string event;
  put_double(event, kEventWallTime,
             std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  return event;
}

}  // namespace

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  MINIDL_CHECK(!error, "cannot create the TensorBoard directory {}: {}", dir, error.message());
  std::array<char, 256> host{};  // Linux host names have at most 64 bytes
  MINIDL_CHECK(::gethostname(host.data(), host.size() - 1) == 0, "cannot name an event file in {}: gethostname: {}",
               dir, std::strerror(errno));
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  path_ = (std::filesystem::path(dir) / fmt::format("events.out.tfevents.{}.{}", seconds, host.data())).string();
  file_.reset(std::fopen(path_.c_str(), "wbx"));  // "x": fail rather than overwrite an earlier file
  MINIDL_CHECK(file_ != nullptr, "cannot create the TensorBoard event file {}: {}", path_, std::strerror(errno));
  std::string event = event_at_wall_time();
  put_bytes(event, kEventFileVersion, "brain.Event:2");
  write_record(event);
  flush();
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  std::string tagged_value;
  put_bytes(tagged_value, kValueTag, tag);
  put_float(tagged_value, kValueSimpleValue, static_cast<float>(value));
  std::string summary;
  put_bytes(summary, kSummaryValue, tagged_value);
  std::string event = event_at_wall_time();
  put_int64(event, kEventStep, step);
  put_bytes(event, kEventSummary, summary);
  write_record(event);
}

void TensorBoardWriter::flush() {
  MINIDL_CHECK(std::fflush(file_.get()) == 0, "cannot write the TensorBoard event file {}: {}", path_,
               std::strerror(errno));
}

void TensorBoardWriter::write_record(const std::string& event) {
  std::string length;
  put_little_endian(length, static_cast<uint64_t>(event.size()));
  std::string record = length;
  put_little_endian(record, masked_crc32c(length));
  record += event;
  put_little_endian(record, masked_crc32c(event));
  MINIDL_CHECK(std::fwrite(record.data(), 1, record.size(), file_.get()) == record.size(),
               "cannot write the TensorBoard event file {}: {}", path_, std::strerror(errno));
}

}  // namespace minidl
