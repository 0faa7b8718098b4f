// A character corpus for language models: the Debian package `fortunes` (plain-text fortune
// files), read in file-name order, split deterministically into training and validation text, and
// encoded over the corpus's byte vocabulary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/random/generator.h"

namespace minidl {

// Where the Debian package fortunes installs its files.
inline constexpr const char* kDefaultFortunesDir = "/usr/share/games/fortunes";

struct CharCorpus {
  std::vector<uint8_t> vocab;  // the distinct bytes of the corpus, ascending: id k is vocab[k]
  Tensor train, validation;    // i64 [length] ids
};

// The plain-text files of dir (names without an extension: not the .dat indexes or .u8 links),
// concatenated in name order; the last `validation_fraction` of the text is the validation split.
CharCorpus load_fortunes(const std::string& dir, double validation_fraction = 0.1);

// ids of text over vocab; a byte outside it is an error naming the byte.
Tensor encode(const std::string& text, const std::vector<uint8_t>& vocab);
std::string decode(const std::vector<int64_t>& ids, const std::vector<uint8_t>& vocab);

// A batch of `batch` windows of context + 1 ids at offsets drawn from gen: inputs [batch,
// context] and targets [batch, context], the targets being the inputs shifted by one.
struct TextBatch {
  Tensor inputs, targets;
};
TextBatch sample_windows(const Tensor& ids, int64_t batch, int64_t context, Generator& gen);

// The cross-entropy (nats per character) of the validation text under the training text's
// character frequencies (add-one smoothing): the unigram baseline a language model must beat.
double unigram_cross_entropy(const CharCorpus& corpus);

}  // namespace minidl
