#include "framework/io/augment.h"

#include <vector>

#include "framework/core/check.h"
#include "framework/ops/ops.h"

namespace minidl {

Tensor random_crop_flip(const Tensor& images, int64_t pad, bool flip, float fill, Generator& gen) {
  MINIDL_CHECK(images.dim() == 4 && images.dtype() == DType::F32 && images.device() == kCPU,
               "augmentation: expected CPU f32 images [N, C, H, W], got {}", images.describe());
  MINIDL_CHECK(pad >= 0, "augmentation: pad = {} must be >= 0", pad);
  const Tensor src = contiguous(images);
  const int64_t n = src.size(0), c = src.size(1), h = src.size(2), w = src.size(3);
  Tensor out = Tensor::full(src.shape(), fill);
  const float* in = src.data<float>();
  float* o = out.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    // The draws of image i, in a fixed order: vertical shift, horizontal shift, flip.
    const int64_t dy = static_cast<int64_t>(gen.next_below(static_cast<uint64_t>(2 * pad + 1))) - pad;
    const int64_t dx = static_cast<int64_t>(gen.next_below(static_cast<uint64_t>(2 * pad + 1))) - pad;
    const bool mirror = flip && gen.next_below(2) == 1;
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* plane = in + (i * c + ch) * h * w;
      float* dst = o + (i * c + ch) * h * w;
      for (int64_t y = 0; y < h; ++y) {
        const int64_t sy = y + dy;
        if (sy < 0 || sy >= h) continue;  // padding: stays `fill`
        for (int64_t x = 0; x < w; ++x) {
          const int64_t sx = (mirror ? w - 1 - x : x) + dx;
          if (sx >= 0 && sx < w) dst[y * w + x] = plane[sy * w + sx];
        }
      }
    }
  }
  return out;
}

}  // namespace minidl
