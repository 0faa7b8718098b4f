// A check the language-model suites share: a small model learns a text with a short period.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "framework/io/text_corpus.h"
#include "framework/ops/ops.h"
#include "framework/optim/optimizers.h"
#include "models/language_model.h"

namespace minidl {

// 150 AdamW steps on batches of 8 windows of "abc?"-style patterns over 11 ids (period 20): the
// first loss is about uniform's log 11, the last below 0.6. The model takes vocab 11.
inline void expect_learns_repeating_text(LanguageModel& model, double lr) {
  ASSERT_EQ(model.vocab(), 11);
  std::vector<int64_t> text;
  for (int i = 0; i < 400; ++i) text.push_back(i % 5 == 4 ? 10 : (i / 5) % 4);
  const Tensor ids = Tensor::from_vector(text, {static_cast<int64_t>(text.size())});
  AdamW optimizer(model.parameters(), AdamWOptions{.lr = lr, .weight_decay = 0.0});
  Generator batches(5);
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    const TextBatch batch = sample_windows(ids, 8, model.context(), batches);
    optimizer.zero_grad();
    Tensor loss =
        cross_entropy(reshape(model(batch.inputs), {8 * model.context(), model.vocab()}), reshape(batch.targets, {-1}));
    loss.backward();
    optimizer.step();
    (step == 0 ? first : last) = loss.item();
  }
  EXPECT_NEAR(first, std::log(11.0), 0.3) << "an untrained model predicts about uniformly";
  EXPECT_LT(last, 0.6) << "after 150 steps on a text with a period of 20 characters";
}

}  // namespace minidl
