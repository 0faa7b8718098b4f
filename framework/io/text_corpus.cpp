#include "framework/io/text_corpus.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "framework/core/check.h"
#include "framework/core/profiler.h"

namespace minidl {

CharCorpus load_fortunes(const std::string& dir, double validation_fraction) {
  namespace fs = std::filesystem;
  MINIDL_CHECK(validation_fraction > 0 && validation_fraction < 1,
               "load_fortunes: validation_fraction = {} is outside (0, 1)", validation_fraction);
  MINIDL_CHECK(fs::is_directory(dir), "fortunes directory {} does not exist: install the Debian package fortunes "
               "(apt-get install fortunes) or pass --data-dir", dir);
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && !e.is_symlink() && !e.path().has_extension()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::string text;
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    MINIDL_CHECK(in.good(), "cannot read {}", f.string());
    text.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  MINIDL_CHECK(text.size() >= 1000, "{}: the fortune files hold {} bytes; expected a corpus of at least 1000", dir,
               text.size());
  std::array<bool, 256> seen{};
  for (char c : text) seen[static_cast<uint8_t>(c)] = true;
  CharCorpus corpus;
  for (int b = 0; b < 256; ++b)
    if (seen[static_cast<size_t>(b)]) corpus.vocab.push_back(static_cast<uint8_t>(b));
  const size_t split = text.size() - static_cast<size_t>(static_cast<double>(text.size()) * validation_fraction);
  corpus.train = encode(text.substr(0, split), corpus.vocab);
  corpus.validation = encode(text.substr(split), corpus.vocab);
  return corpus;
}

Tensor encode(const std::string& text, const std::vector<uint8_t>& vocab) {
  std::array<int64_t, 256> id;
  id.fill(-1);
  for (size_t k = 0; k < vocab.size(); ++k) id[vocab[k]] = static_cast<int64_t>(k);
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  for (char c : text) {
    const int64_t v = id[static_cast<uint8_t>(c)];
    MINIDL_CHECK(v >= 0, "encode: byte {} is not in the model's vocabulary of {} characters",
                 static_cast<int>(static_cast<uint8_t>(c)), vocab.size());
    ids.push_back(v);
  }
  return Tensor::from_vector(ids, {static_cast<int64_t>(ids.size())});
}

std::string decode(const std::vector<int64_t>& ids, const std::vector<uint8_t>& vocab) {
  std::string text;
  for (int64_t v : ids) {
    MINIDL_CHECK(v >= 0 && v < static_cast<int64_t>(vocab.size()), "decode: id {} outside the vocabulary of {}", v,
                 vocab.size());
    text.push_back(static_cast<char>(vocab[static_cast<size_t>(v)]));
  }
  return text;
}

TextBatch sample_windows(const Tensor& ids, int64_t batch, int64_t context, Generator& gen) {
  const ProfileRange range("data", "sample windows");
  const int64_t length = ids.numel();
  MINIDL_CHECK(length > context + 1, "sample_windows: a text of {} characters is too short for a context of {}",
               length, context);
  const int64_t* data = ids.data<int64_t>();
  std::vector<int64_t> inputs, targets;
  inputs.reserve(static_cast<size_t>(batch * context));
  targets.reserve(static_cast<size_t>(batch * context));
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t start = static_cast<int64_t>(gen.next_below(static_cast<uint64_t>(length - context)));
    inputs.insert(inputs.end(), data + start, data + start + context);
    targets.insert(targets.end(), data + start + 1, data + start + context + 1);
  }
  return {Tensor::from_vector(inputs, {batch, context}), Tensor::from_vector(targets, {batch, context})};
}

double unigram_cross_entropy(const CharCorpus& corpus) {
  std::vector<double> counts(corpus.vocab.size(), 1.0);
  for (int64_t v : corpus.train.to_vector<int64_t>()) counts[static_cast<size_t>(v)] += 1;
  double total = 0;
  for (double c : counts) total += c;
  double nats = 0;
  const std::vector<int64_t> val = corpus.validation.to_vector<int64_t>();
  for (int64_t v : val) nats -= std::log(counts[static_cast<size_t>(v)] / total);
  return nats / static_cast<double>(val.size());
}

}  // namespace minidl
