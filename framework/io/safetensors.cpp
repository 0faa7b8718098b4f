#include "framework/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <set>
#include <string_view>

#include <nlohmann/json.hpp>

#include "framework/io/atomic_file.h"
#include "framework/ops/ops.h"

namespace minidl {

// Tensor bytes are copied as the host stores them, and the format is little-endian.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

using Json = nlohmann::ordered_json;  // keeps the header's order, so tensors load in the order saved

constexpr const char* kMetadataKey = "__metadata__";
constexpr const char* kExpectedCodes = "F32, F64, BF16, I32, I64, U8, BOOL";

const char* dtype_code(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
    case DType::Bool: return "BOOL";
    case DType::BF16: return "BF16";
  }
  return "?";
}

std::optional<DType> parse_dtype_code(std::string_view code) {
  for (DType d : {DType::F32, DType::F64, DType::BF16, DType::I32, DType::I64, DType::U8, DType::Bool}) {
    if (code == dtype_code(d)) return d;
  }
  return std::nullopt;
}

// A value read from the file, for an error message: as JSON (so an odd name cannot break the
// one-line message), but only its first levels, items and characters, so that a huge or deeply
// nested value neither floods the message nor recurses once per level.
std::string excerpt(const Json& v, int depth = 0) {
  constexpr int kMaxDepth = 8;
  constexpr size_t kMaxItems = 16, kMaxChars = 64;
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.size() <= kMaxChars) return v.dump();
    // Cutting may split a UTF-8 sequence: the dump replaces it instead of throwing.
    return Json(s.substr(0, kMaxChars) + "...").dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  if (!v.is_structured()) return v.dump();
  const bool array = v.is_array();
  std::string out(1, array ? '[' : '{');
  if (depth + 1 == kMaxDepth && !v.empty()) {
    out += "...";
  } else {
    size_t n = 0;
    for (auto it = v.begin(); it != v.end(); ++it, ++n) {
      if (n > 0) out += ',';
      if (n == kMaxItems) {
        out += "...";
        break;
      }
      if (!array) out += excerpt(Json(it.key())) + ':';
      out += excerpt(*it, depth + 1);
    }
  }
  return out + (array ? ']' : '}');
}

std::string json_quoted(const std::string& s) { return excerpt(Json(s)); }

// nlohmann's parse errors quote the last bytes read, which in a corrupt file need not be UTF-8 and
// may be a whole long string: non-ASCII bytes are escaped and the message is cut at 300 bytes.
std::string ascii_only(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 300)) {
    const auto byte = static_cast<uint8_t>(c);
    out += byte < 0x80 ? std::string(1, c) : fmt::format("\\x{:02X}", byte);
  }
  return s.size() > 300 ? out + "..." : out;
}

// One header entry, validated against the data section's size.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

Entry parse_entry(const std::string& src, const std::string& raw_name, const Json& entry, uint64_t data_size) {
  const std::string name = json_quoted(raw_name);
  MINIDL_CHECK(entry.is_object(), "{}: tensor {}: entry {} is not a JSON object", src, name, excerpt(entry));
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    MINIDL_CHECK(entry.contains(key), "{}: tensor {}: missing \"{}\"", src, name, key);
  }
  Entry e{raw_name, DType::F32, {}, 0, 0};

  const Json& dtype = entry["dtype"];
  MINIDL_CHECK(dtype.is_string(), "{}: tensor {}: dtype {} is not a string: expected one of {}", src, name,
               excerpt(dtype), kExpectedCodes);
  const std::optional<DType> parsed = parse_dtype_code(dtype.get_ref<const std::string&>());
  MINIDL_CHECK(parsed.has_value(), "{}: tensor {}: unknown dtype {}: expected one of {}", src, name, excerpt(dtype),
               kExpectedCodes);
  e.dtype = *parsed;

  const Json& shape = entry["shape"];
  const bool shape_ok = shape.is_array() && std::all_of(shape.begin(), shape.end(), [](const Json& s) {
    return s.is_number_unsigned() && s.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX);
  });
  MINIDL_CHECK(shape_ok, "{}: tensor {}: shape {} is not a list of non-negative integers", src, name, excerpt(shape));
  // The byte count the shape needs, overflow-checked: a corrupt shape must not wrap to a small one.
  uint64_t expected_bytes = dtype_size(e.dtype);
  bool overflow = false;
  for (const Json& s : shape) {
    e.shape.push_back(s.get<int64_t>());
    overflow = overflow || __builtin_mul_overflow(expected_bytes, s.get<uint64_t>(), &expected_bytes);
  }

  const Json& offsets = entry["data_offsets"];
  MINIDL_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                   offsets[1].is_number_unsigned(),
               "{}: tensor {}: data_offsets {} is not two non-negative integers [begin, end]", src, name,
               excerpt(offsets));
  e.begin = offsets[0].get<uint64_t>();
  e.end = offsets[1].get<uint64_t>();
  MINIDL_CHECK(e.begin <= e.end, "{}: tensor {}: data_offsets [{}, {}] begin after end", src, name, e.begin, e.end);
  MINIDL_CHECK(e.end <= data_size,
               "{}: tensor {}: data_offsets [{}, {}] end beyond the data section ({} bytes): is the file truncated?",
               src, name, e.begin, e.end, data_size);
  MINIDL_CHECK(!overflow && e.end - e.begin == expected_bytes, "{}: tensor {}: {} bytes for {} {}: expected {}", src,
               name, e.end - e.begin, dtype_code(e.dtype), shape_str(e.shape),
               overflow ? std::string("more than 2^64") : std::to_string(expected_bytes));
  // An empty tensor passes with any other dims; its element count and strides are still computed
  // from them (zeros skipped), so they must not overflow either.
  int64_t elements = 1;
  bool too_many = false;
  for (int64_t d : e.shape) too_many = too_many || (d != 0 && __builtin_mul_overflow(elements, d, &elements));
  MINIDL_CHECK(!too_many, "{}: tensor {}: shape {} has more than 2^63 elements", src, name, shape_str(e.shape));
  return e;
}

std::map<std::string, std::string> parse_metadata(const std::string& src, const Json& metadata) {
  MINIDL_CHECK(metadata.is_object(), "{}: {} {} is not a JSON object", src, kMetadataKey, excerpt(metadata));
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : metadata.items()) {
    MINIDL_CHECK(value.is_string(), "{}: {} value of {} is {}: expected a string", src, kMetadataKey, json_quoted(key),
                 excerpt(value));
    out.emplace(key, value.get<std::string>());
  }
  return out;
}

// Non-empty tensors must tile the data section exactly: no overlap, no gap, nothing after.
void check_layout(const std::string& src, std::vector<const Entry*> entries, uint64_t data_size) {
  std::erase_if(entries, [](const Entry* e) { return e->begin == e->end; });
  std::sort(entries.begin(), entries.end(), [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  uint64_t pos = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : entries) {
    MINIDL_CHECK(e->begin >= pos, "{}: tensors {} [{}, {}] and {} [{}, {}] overlap in the data section", src,
                 json_quoted(prev->name), prev->begin, prev->end, json_quoted(e->name), e->begin, e->end);
    MINIDL_CHECK(e->begin == pos, "{}: bytes [{}, {}) of the data section belong to no tensor", src, pos, e->begin);
    pos = e->end;
    prev = e;
  }
  MINIDL_CHECK(pos == data_size, "{}: bytes [{}, {}) of the data section belong to no tensor", src, pos, data_size);
}

}  // namespace

const Tensor& SafetensorsFile::at(const std::string& name) const {
  for (const auto& [n, t] : tensors) {
    if (n == name) return t;
  }
  MINIDL_FAIL("{}: no tensor named '{}'", source, name);
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::set<std::string> names;
  std::vector<Tensor> data;  // contiguous, in file order
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    MINIDL_CHECK(name != kMetadataKey, "cannot save {}: the tensor name \"{}\" is reserved for metadata", path,
                 kMetadataKey);
    MINIDL_CHECK(names.insert(name).second, "cannot save {}: duplicate tensor name '{}'", path, name);
    MINIDL_CHECK(t.defined(), "cannot save {}: tensor '{}' is undefined", path, name);
    MINIDL_CHECK(t.device().type == DeviceType::CPU, "cannot save {}: tensor '{}' is {}: copy it to cpu first", path,
                 name, t.describe());
    data.push_back(contiguous(t.detach()));
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype());
    header[name] = {{"dtype", dtype_code(t.dtype())},
                    {"shape", t.shape()},
                    {"data_offsets", Json::array({offset, offset + nbytes})}};
    offset += nbytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    MINIDL_FAIL("cannot save {}: tensor names and metadata must be valid UTF-8: {}", path, e.what());
  }
  // Padding keeps the data section 8-byte aligned in the file, as the reference writer does.
  text.append((8 - text.size() % 8) % 8, ' ');

  write_file_atomically(path, [&](std::FILE* f) {
    uint8_t length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
    std::fwrite(length, 1, sizeof(length), f);
    std::fwrite(text.data(), 1, text.size(), f);
    for (const Tensor& t : data) {
      const size_t nbytes = static_cast<size_t>(t.numel()) * dtype_size(t.dtype());
      if (nbytes > 0) std::fwrite(t.raw_data(), 1, nbytes, f);
    }
  });
}

SafetensorsFile load_safetensors(const std::string& path) { return parse_safetensors(read_file(path), path); }

SafetensorsFile parse_safetensors(std::span<const uint8_t> bytes, const std::string& source_name) {
  const std::string& src = source_name;
  MINIDL_CHECK(bytes.size() >= 8, "{}: {} bytes is too short for a safetensors file: expected at least 8", src,
               bytes.size());
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  MINIDL_CHECK(header_size <= bytes.size() - 8,
               "{}: header length {} is beyond the end of the file ({} bytes): truncated, or not a safetensors file",
               src, header_size, bytes.size());
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), header_size);
  const std::span<const uint8_t> data = bytes.subspan(8 + header_size);

  // The parsed object would silently keep only the last of two equal names: catch them here. And
  // stop at a nesting depth no valid header has (it needs 3): copying a deeply nested value, as
  // the ordered object does when it grows, recurses once per level and would overflow the stack.
  constexpr int kMaxDepth = 32;
  std::set<std::string> names;
  std::string duplicate;
  const auto find_duplicates = [&](int depth, Json::parse_event_t event, Json& parsed) {
    MINIDL_CHECK(depth <= kMaxDepth, "{}: malformed header: it nests deeper than {} levels", src, kMaxDepth);
    if (depth == 1 && event == Json::parse_event_t::key && !names.insert(parsed.get<std::string>()).second &&
        duplicate.empty()) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  // nlohmann's lexer takes a NUL byte for the end of the input: what follows one would go unread.
  const size_t nul = text.find('\0');
  MINIDL_CHECK(nul == std::string_view::npos, "{}: malformed header: a NUL byte at header offset {}", src, nul);
  Json header;
  try {
    header = Json::parse(text, find_duplicates);
  } catch (const nlohmann::json::exception& e) {
    MINIDL_FAIL("{}: malformed header (not valid UTF-8 JSON): {}", src, ascii_only(e.what()));
  }
  MINIDL_CHECK(header.is_object(), "{}: header is a JSON {}: expected an object of tensors", src, header.type_name());
  MINIDL_CHECK(duplicate.empty(), "{}: header names {} twice", src, json_quoted(duplicate));

  SafetensorsFile file;
  file.source = src;
  std::vector<Entry> entries;
  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadataKey) {
      file.metadata = parse_metadata(src, entry);
    } else {
      entries.push_back(parse_entry(src, name, entry, data.size()));
    }
  }
  std::vector<const Entry*> layout;
  for (const Entry& e : entries) layout.push_back(&e);
  check_layout(src, std::move(layout), data.size());

  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    const std::span<const uint8_t> src_bytes = data.subspan(e.begin, e.end - e.begin);
    if (!src_bytes.empty()) std::memcpy(t.raw_data(), src_bytes.data(), src_bytes.size());
    if (e.dtype == DType::Bool) {
      const auto bad = std::find_if(src_bytes.begin(), src_bytes.end(), [](uint8_t b) { return b > 1; });
      MINIDL_CHECK(bad == src_bytes.end(), "{}: tensor {}: BOOL element {} is {}: expected 0 or 1", src,
                   json_quoted(e.name), bad - src_bytes.begin(), *bad);
    }
    file.tensors.emplace_back(e.name, std::move(t));
  }
  return file;
}

}  // namespace minidl
