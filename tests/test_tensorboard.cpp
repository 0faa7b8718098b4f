// TensorBoard logs (framework/io/tensorboard.h) and what minidl train logs to them. The event files
// are read back by a decoder written here from the format's description, not from the writer: its
// CRC32C goes bit by bit (checked on the standard test vector), and it checks every record's two
// CRCs, every field's wire type and the file_version event; one flipped byte anywhere must fail.
// Then the two measurements train logs: the dropout keep rate and the gradient norm.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "framework/io/atomic_file.h"
#include "framework/io/tensorboard.h"
#include "framework/nn/layers.h"
#include "framework/ops/ops.h"
#include "framework/optim/clip.h"
#include "framework/regularize/dropout_layers.h"
#include "kernels/common/random_rules.h"
#include "tests/file_checks.h"

namespace minidl {
namespace {

// ---- An independent decoder of TensorBoard event files ----------------------------------------

struct DecodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// CRC32C: reflected polynomial 0x82F63B78, register starting at all ones, inverted at the end.
uint32_t crc32c_bit_by_bit(std::string_view bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (const unsigned char byte : bytes) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) != 0 ? 0x82F63B78u : 0u);
  }
  return ~crc;
}

uint32_t masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u; }

// Reads bytes in order; running past the end is a DecodeError naming what was being read.
class Cursor {
 public:
  explicit Cursor(std::string_view bytes) : bytes_(bytes) {}
  bool at_end() const { return position_ == bytes_.size(); }

  std::string_view take(uint64_t n, const std::string& what) {
    if (n > bytes_.size() - position_) throw DecodeError("truncated " + what);
    const std::string_view taken = bytes_.substr(position_, n);
    position_ += n;
    return taken;
  }

  template <typename Word>
  Word little_endian(const std::string& what) {
    const std::string_view bytes = take(sizeof(Word), what);
    Word word = 0;
    for (size_t i = 0; i < sizeof(Word); ++i)
      word |= static_cast<Word>(static_cast<unsigned char>(bytes[i])) << (8 * i);
    return word;
  }

  // Base-128 groups, least significant first; the high bit says another group follows.
  uint64_t varint(const std::string& what) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const auto group = static_cast<unsigned char>(take(1, what)[0]);
      value |= static_cast<uint64_t>(group & 0x7F) << shift;
      if ((group & 0x80) == 0) return value;
    }
    throw DecodeError(what + ": varint longer than 10 bytes");
  }

 private:
  std::string_view bytes_;
  size_t position_ = 0;
};

// TFRecord framing: u64 length, masked CRC32C of the length's 8 bytes, data, masked CRC32C of the data.
std::vector<std::string> tfrecord_payloads(std::string_view file) {
  std::vector<std::string> payloads;
  Cursor in(file);
  while (!in.at_end()) {
    const std::string_view length_bytes = in.take(8, "record length");
    const uint64_t length = Cursor(length_bytes).little_endian<uint64_t>("record length");
    if (in.little_endian<uint32_t>("length CRC") != masked(crc32c_bit_by_bit(length_bytes)))
      throw DecodeError("length CRC mismatch");
    const std::string_view data = in.take(length, "record data");
    if (in.little_endian<uint32_t>("data CRC") != masked(crc32c_bit_by_bit(data)))
      throw DecodeError("data CRC mismatch");
    payloads.emplace_back(data);
  }
  return payloads;
}

enum WireType : uint64_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// Calls read_field(field number, wire type, cursor) for each field of a message; it reads the value.
template <typename ReadField>
void for_each_field(std::string_view message, ReadField read_field) {
  Cursor in(message);
  while (!in.at_end()) {
    const uint64_t key = in.varint("field key");
    read_field(key >> 3, key & 7, in);
  }
}

void expect_wire_type(uint64_t actual, WireType expected, const std::string& field) {
  if (actual != expected) throw DecodeError(field + " has wire type " + std::to_string(actual));
}

std::string_view length_delimited(Cursor& in, const std::string& field) {
  return in.take(in.varint(field + " length"), field);
}

struct Scalar {
  std::string tag;
  float value = 0;
};

// The Event fields the writer uses: wall_time = 1, step = 2, file_version = 3, summary = 5.
struct Event {
  std::optional<double> wall_time;
  int64_t step = 0;
  std::optional<std::string> file_version;
  std::vector<Scalar> scalars;  // summary.value: tag = 1, simple_value = 2
};

Scalar parse_value(std::string_view message) {
  Scalar scalar;
  bool has_tag = false, has_value = false;
  for_each_field(message, [&](uint64_t field, uint64_t type, Cursor& in) {
    if (field == 1) {
      expect_wire_type(type, kLengthDelimited, "Value.tag");
      scalar.tag = length_delimited(in, "Value.tag");
      has_tag = true;
    } else if (field == 2) {
      expect_wire_type(type, kFixed32, "Value.simple_value");
      scalar.value = std::bit_cast<float>(in.little_endian<uint32_t>("Value.simple_value"));
      has_value = true;
    } else {
      throw DecodeError("unexpected Value field " + std::to_string(field));
    }
  });
  if (!has_tag || !has_value) throw DecodeError("Value without tag or simple_value");
  return scalar;
}

Event parse_event(std::string_view message) {
  Event event;
  for_each_field(message, [&](uint64_t field, uint64_t type, Cursor& in) {
    if (field == 1) {
      expect_wire_type(type, kFixed64, "Event.wall_time");
      event.wall_time = std::bit_cast<double>(in.little_endian<uint64_t>("Event.wall_time"));
    } else if (field == 2) {
      expect_wire_type(type, kVarint, "Event.step");
      event.step = static_cast<int64_t>(in.varint("Event.step"));
    } else if (field == 3) {
      expect_wire_type(type, kLengthDelimited, "Event.file_version");
      event.file_version = std::string(length_delimited(in, "Event.file_version"));
    } else if (field == 5) {
      expect_wire_type(type, kLengthDelimited, "Event.summary");
      for_each_field(length_delimited(in, "Event.summary"), [&](uint64_t value_field, uint64_t value_type, Cursor& s) {
        if (value_field != 1) throw DecodeError("unexpected Summary field " + std::to_string(value_field));
        expect_wire_type(value_type, kLengthDelimited, "Summary.value");
        event.scalars.push_back(parse_value(length_delimited(s, "Summary.value")));
      });
    } else {
      throw DecodeError("unexpected Event field " + std::to_string(field));
    }
  });
  if (!event.wall_time) throw DecodeError("Event without wall_time");
  return event;
}

// The events of a file, which must start with the file_version event.
std::vector<Event> decode_event_file(std::string_view file) {
  std::vector<Event> events;
  for (const std::string& payload : tfrecord_payloads(file)) events.push_back(parse_event(payload));
  if (events.empty() || events[0].file_version != "brain.Event:2" || !events[0].scalars.empty())
    throw DecodeError("the first event is not file_version brain.Event:2");
  for (size_t i = 1; i < events.size(); ++i)
    if (events[i].file_version || events[i].scalars.size() != 1) throw DecodeError("not one scalar per event");
  return events;
}

std::string read_text(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  std::array<char, 256> host{};
  EXPECT_EQ(::gethostname(host.data(), host.size() - 1), 0);
  return host.data();
}

TEST(TensorBoardDecoder, Crc32cKnownAnswer) {
  EXPECT_EQ(crc32c_bit_by_bit("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c_bit_by_bit(""), 0u);
}

// ---- The writer --------------------------------------------------------------------------------

struct Logged {
  std::string tag;
  double value;
  int64_t step;
};

TEST(TensorBoard, WritesEventsAnIndependentDecoderReads) {
  // Multi-byte varints (steps of 300 and 2^40, a 200-byte tag), a negative value, values that
  // float rounds.
  const std::vector<Logged> scalars = {{"train/loss", 2.302585, 0},
                                       {"train/lr", 1e-3, 1},
                                       {"test/accuracy", -7.25, 300},
                                       {std::string(200, 'a'), 0.1, int64_t{1} << 40}};
  TempDir dir("minidl_tensorboard");
  const std::string log_dir = dir.file("runs/mlp/tb");  // parents created too
  const double before = unix_seconds();
  std::string path;
  {
    TensorBoardWriter writer(log_dir);
    path = writer.path();
    // The name TensorBoard looks for, with this second and this host.
    std::smatch name;
    const std::string file_name = std::filesystem::path(path).filename().string();
    ASSERT_TRUE(std::regex_match(file_name, name, std::regex(R"(events\.out\.tfevents\.(\d+)\.(.+))"))) << file_name;
    EXPECT_EQ(std::filesystem::path(path).parent_path(), std::filesystem::path(log_dir));
    EXPECT_GE(std::stod(name[1]), std::floor(before));
    EXPECT_LE(std::stod(name[1]), unix_seconds());
    EXPECT_EQ(name[2], host_name());

    for (size_t i = 0; i < scalars.size(); ++i) {
      writer.add_scalar(scalars[i].tag, scalars[i].value, scalars[i].step);
      if (i == 0) {
        writer.flush();  // readable while the writer is open
        EXPECT_EQ(decode_event_file(read_text(path)).size(), 2u);
      }
    }
  }  // the rest reaches the file on destruction
  const double after = unix_seconds();

  const std::vector<Event> events = decode_event_file(read_text(path));
  ASSERT_EQ(events.size(), 1 + scalars.size());
  for (const Event& event : events) {
    EXPECT_GE(*event.wall_time, before - 1e-3);
    EXPECT_LE(*event.wall_time, after + 1e-3);
  }
  EXPECT_TRUE(std::is_sorted(events.begin(), events.end(),
                             [](const Event& a, const Event& b) { return *a.wall_time < *b.wall_time; }));
  for (size_t i = 0; i < scalars.size(); ++i) {
    const Logged& logged = scalars[i];
    const Event& event = events[i + 1];
    EXPECT_EQ(event.step, logged.step);
    EXPECT_EQ(event.scalars[0].tag, logged.tag);
    EXPECT_EQ(event.scalars[0].value, static_cast<float>(logged.value)) << logged.tag;
  }
}

TEST(TensorBoard, EveryFlippedByteIsDetected) {
  TempDir dir("minidl_tensorboard");
  std::string path;
  {
    TensorBoardWriter writer(dir.file("tb"));
    writer.add_scalar("train/loss", 0.5, 7);
    path = writer.path();
  }
  const std::string file = read_text(path);
  ASSERT_EQ(decode_event_file(file).size(), 2u);
  for (size_t position = 0; position < file.size(); ++position) {
    for (const unsigned char flip : {0x01, 0x80, 0xFF}) {
      std::string corrupted = file;
      corrupted[position] = static_cast<char>(static_cast<unsigned char>(corrupted[position]) ^ flip);
      EXPECT_THROW(decode_event_file(corrupted), DecodeError) << "byte " << position << " xor " << int{flip};
    }
  }
}

TEST(TensorBoard, ErrorsNameThePath) {
  TempDir dir("minidl_tensorboard");
  const std::string file = dir.file("a_file");
  write_file_atomically(file, [](std::FILE* f) { std::fputs("not a directory", f); });
  EXPECT_ERROR(TensorBoardWriter(file + "/tb"), "cannot create the TensorBoard directory", file + "/tb");

  // An existing event file is never overwritten: this second's name and the next one's are taken.
  const std::string log_dir = dir.file("tb");
  std::filesystem::create_directories(log_dir);
  const auto now = static_cast<int64_t>(unix_seconds());
  for (const int64_t seconds : {now, now + 1}) {
    const std::string taken = log_dir + "/events.out.tfevents." + std::to_string(seconds) + "." + host_name();
    write_file_atomically(taken, [](std::FILE* f) { std::fputs("an earlier run's events", f); });
  }
  EXPECT_ERROR(TensorBoardWriter{log_dir}, "cannot create the TensorBoard event file",
               log_dir + "/events.out.tfevents.", "File exists");
  EXPECT_EQ(read_text(log_dir + "/events.out.tfevents." + std::to_string(now) + "." + host_name()),
            "an earlier run's events");
}

// ---- What minidl train measures for it ---------------------------------------------------------

// Distinct positive inputs: a kept element's output varies with its input, while every dropped
// one becomes the same constant (0, or alpha dropout's saturation value).
Tensor distinct_inputs(const Shape& shape) {
  std::vector<float> values(static_cast<size_t>(shape_numel(shape)));
  const auto n = static_cast<float>(values.size());
  for (size_t i = 0; i < values.size(); ++i) values[i] = 1.0f + static_cast<float>(i) / n;
  return Tensor::from_vector(values, shape);
}

// The fraction of elements not equal to the most frequent output value (the dropped constant).
double kept_fraction(const Tensor& output) {
  std::map<float, int64_t> counts;
  for (const float v : output.to_vector<float>()) ++counts[v];
  int64_t dropped = 0;
  for (const auto& [value, count] : counts) dropped = std::max(dropped, count);
  EXPECT_GE(dropped, 2) << "too few elements dropped to tell the dropped value";
  return 1.0 - static_cast<double>(dropped) / static_cast<double>(output.numel());
}

// The variants whose keep rate means nothing: noise on every element, and concrete dropout's
// relaxed mask.
std::set<std::string> variants_without_keep_rate() {
  std::set<std::string> names = {"gaussian", "gaussian-noise", "concrete"};
#define MINIDL_RULE_NAME(id, rule) names.insert(rule::kName);
  MINIDL_RANDOM_RULES(MINIDL_RULE_NAME)
#undef MINIDL_RULE_NAME
  return names;
}

TEST(TensorBoardDropoutKeepRate, IsTheFractionTheTrainingForwardKeptForEveryMaskVariant) {
  const Shape shape{8, 4, 6, 6};  // [N, C, H, W], valid for the feature-map variants too
  const Tensor x = distinct_inputs(shape);
  for (const auto* table : {&activation_dropout_variants(), &feature_map_dropout_variants()}) {
    for (const DropoutVariant& variant : *table) {
      SCOPED_TRACE(variant.name);
      Generator gen(11), unobserved_gen(11);
      const std::shared_ptr<Module> layer = variant.make(0.3, gen);
      const std::shared_ptr<Module> unobserved = variant.make(0.3, unobserved_gen);
      set_observe_keep_rate(*layer, true);
      EXPECT_FALSE(observed_keep_rate(*layer)) << "nothing observed before a forward";
      const Tensor y = (*layer)(x);
      // Observing draws nothing: the same output, and the stream where it would be.
      EXPECT_EQ(y.to_vector<float>(), (*unobserved)(x).to_vector<float>());
      EXPECT_EQ(gen.offset(), unobserved_gen.offset());
      const std::optional<double> observed = observed_keep_rate(*layer);
      if (variants_without_keep_rate().count(variant.name) != 0) {
        EXPECT_FALSE(observed);
        continue;
      }
      ASSERT_TRUE(observed);
      EXPECT_NEAR(*observed, kept_fraction(y), 1e-6);
    }
  }
}

TEST(TensorBoardDropoutKeepRate, OnlyObservedInTrainingWhenTurnedOn) {
  Generator gen(3);
  Sequential model;
  model.add(make_dropout_layer("dropout", 0.5, gen));
  const Tensor x = distinct_inputs({16, 32});
  model(x);
  EXPECT_FALSE(observed_keep_rate(model)) << "off by default";
  set_observe_keep_rate(model, true);
  model.eval();
  model(x);
  EXPECT_FALSE(observed_keep_rate(model)) << "eval forwards keep everything: nothing to observe";
  model.train();
  model(x);
  EXPECT_TRUE(observed_keep_rate(model));
}

TEST(TensorBoardDropoutKeepRate, ModelRateIsTheMeanOverItsDropoutLayers) {
  Generator gen(5);
  Sequential model;
  const std::shared_ptr<Module> light = make_dropout_layer("dropout", 0.1, gen);
  const std::shared_ptr<Module> heavy = make_dropout_layer("classic", 0.6, gen);
  model.add(light).add(make_dropout_layer("gaussian", 0.3, gen)).add(heavy);
  set_observe_keep_rate(model, true);
  model(distinct_inputs({32, 64}));
  const std::optional<double> light_rate = observed_keep_rate(*light), heavy_rate = observed_keep_rate(*heavy);
  ASSERT_TRUE(light_rate && heavy_rate);
  EXPECT_NEAR(*light_rate, 0.9, 0.05);
  EXPECT_NEAR(*heavy_rate, 0.4, 0.05);
  EXPECT_DOUBLE_EQ(*observed_keep_rate(model), (*light_rate + *heavy_rate) / 2);  // the gaussian layer has none
}

// Gradients (3, -4) and (12): 2-norm 13, inf-norm 12, and the gradients stay as they were.
TEST(TensorBoardGradNorm, IsTheNormClipGradNormClipsByAndLeavesGradientsAlone) {
  const auto param_with_grad = [](const std::vector<double>& grad) {
    Tensor p = Tensor::zeros({static_cast<int64_t>(grad.size())}, DType::F64);
    p.requires_grad_(true);
    p.set_grad(Tensor::from_vector(grad, {static_cast<int64_t>(grad.size())}));
    return p;
  };
  const Tensor a = param_with_grad({3, -4}), b = param_with_grad({12}), none = Tensor::zeros({1}, DType::F64);
  const Tensor a_grad = a.grad();
  EXPECT_DOUBLE_EQ(grad_norm({a, none, b}), 13.0);
  EXPECT_DOUBLE_EQ(grad_norm({a, b}, INFINITY), 12.0);
  EXPECT_TRUE(a.grad().same(a_grad));
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{3, -4}));
  EXPECT_EQ(grad_norm({none}), 0.0);
  EXPECT_ERROR(grad_norm({a}, 1.0), "grad_norm: norm_type = 1 is not supported");
}

}  // namespace
}  // namespace minidl
