// minidl_kernel_bench: on a GPU, each kernel's achieved bandwidth (or GFLOP/s for GEMM and attention) next to a
// device-to-device copy of the same bytes measured in the same run, the bandwidth limit a
// memory-bound kernel can approach. Times are CUDA events around each repeat, with L2 flushed
// before every repeat; the median is reported. Not a test: tools/gpu-check runs it.
//   minidl_kernel_bench [--n ELEMENTS] [--repeats R] [--json FILE]
#include <CLI/CLI.hpp>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "framework/core/cuda_memory.h"
#include "framework/ops/backend.h"
#include "kernels/cuda/launchers.h"

namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(fmt::format("{}: {}", what, cudaGetErrorString(err)));
}

template <typename T>
T* device_buffer(size_t count, float value) {
  void* ptr = nullptr;
  check(cudaMalloc(&ptr, count * sizeof(T)), "cudaMalloc");
  std::vector<T> host(count, static_cast<T>(value));
  check(cudaMemcpy(ptr, host.data(), count * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy");
  return static_cast<T*>(ptr);
}

class Timer {
 public:
  explicit Timer(int repeats) : repeats_(repeats) {
    int l2 = 0;
    check(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0), "L2 size");
    flush_bytes_ = static_cast<size_t>(l2) * 2;
    check(cudaMalloc(&flush_, flush_bytes_), "cudaMalloc (L2 flush)");
    check(cudaEventCreate(&start_), "cudaEventCreate");
    check(cudaEventCreate(&stop_), "cudaEventCreate");
  }
  // Median milliseconds of fn over the repeats, L2 flushed before each.
  double median_ms(const std::function<void()>& fn) {
    fn();  // warm-up
    std::vector<float> ms;
    for (int r = 0; r < repeats_; ++r) {
      check(cudaMemset(flush_, r, flush_bytes_), "L2 flush");
      check(cudaEventRecord(start_), "cudaEventRecord");
      fn();
      check(cudaEventRecord(stop_), "cudaEventRecord");
      check(cudaEventSynchronize(stop_), "cudaEventSynchronize");
      float t = 0;
      check(cudaEventElapsedTime(&t, start_, stop_), "cudaEventElapsedTime");
      ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  }

 private:
  int repeats_;
  void* flush_ = nullptr;
  size_t flush_bytes_ = 0;
  cudaEvent_t start_{}, stop_{};
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Kernel bandwidth against a device-to-device copy, on a GPU"};
  int64_t n = int64_t{1} << 26;
  int repeats = 20;
  std::string json_path;
  app.add_option("--n", n, "elements per tensor")->capture_default_str();
  app.add_option("--repeats", repeats, "timed repeats per kernel")->capture_default_str();
  app.add_option("--json", json_path, "write the results here");
  CLI11_PARSE(app, argc, argv);
  if (minidl::cuda_device_count() == 0) {
    fmt::print(stderr, "minidl_kernel_bench: {}\n", minidl::cuda_unavailable_reason());
    return 1;
  }
  try {
    using namespace minidl;
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    Timer timer(repeats);
    float *x = device_buffer<float>(n, 0.5f), *y = device_buffer<float>(n, 0.f), *g = device_buffer<float>(n, 0.1f);
    float *m = device_buffer<float>(n, 0.f), *v = device_buffer<float>(n, 0.f);
    int64_t* labels = device_buffer<int64_t>(n / 1024, 3.f);
    // The copy reference moves as many bytes as the kernel it stands beside: up to 7 tensors (AdamW).
    float *copy_from = device_buffer<float>(4 * n, 0.5f), *copy_to = device_buffer<float>(4 * n, 0.f);
    const StridedIndexer contiguous{};
    const PhiloxState state{42, 0, 0};
    nlohmann::json results = nlohmann::json::array();
    fmt::print("device: {} (sm_{}{}), {} elements per tensor, median of {}\n", prop.name, prop.major, prop.minor, n,
               repeats);
    fmt::print("{:<28} {:>10} {:>12} {:>12} {:>8}\n", "kernel", "MB moved", "GB/s", "copy GB/s", "ratio");

    // bytes: what the kernel reads plus writes; the copy moves the same total (bytes / 2 each way).
    auto memory_bound = [&](const std::string& name, double bytes, const std::function<void()>& kernel) {
      const double kernel_ms = timer.median_ms(kernel);
      const double copy_ms = timer.median_ms([&] {
        check(cudaMemcpyAsync(copy_to, copy_from, static_cast<size_t>(bytes / 2), cudaMemcpyDeviceToDevice), "copy");
      });
      const double gbps = bytes / kernel_ms / 1e6, copy_gbps = bytes / copy_ms / 1e6;
      fmt::print("{:<28} {:>10.1f} {:>12.1f} {:>12.1f} {:>7.0f}%\n", name, bytes / 1e6, gbps, copy_gbps,
                 100 * gbps / copy_gbps);
      results.push_back({{"kernel", name}, {"bytes", bytes}, {"ms", kernel_ms}, {"gbps", gbps},
                         {"copy_gbps", copy_gbps}, {"ratio", gbps / copy_gbps}});
    };
    const double f = sizeof(float);
    memory_bound("unary relu", 2 * n * f,
                 [&] { cuda::unary_forward<float>(UnaryKind::Relu, n, y, x, contiguous, nullptr); });
    memory_bound("binary add", 3 * n * f, [&] {
      cuda::binary_forward<float>(BinaryKind::Add, n, y, x, contiguous, g, contiguous, nullptr);
    });
    memory_bound("dropout forward p=0.1", 2 * n * f, [&] {
      cuda::dropout_affine<float>(n, state, dropout_threshold(0.1), DropoutAffine{1 / 0.9, 0, 0}, y, x, nullptr);
    });
    uint32_t* bits = device_buffer<uint32_t>((n + 31) / 32, 0.f);
    memory_bound("dropout pack 1-bit mask", n * f / 32, [&] {
      cuda::dropout_pack_mask(n, state, dropout_threshold(0.1), bits, nullptr);
    });
    memory_bound("dropout apply 1-bit mask", 2 * n * f + n * f / 32, [&] {
      cuda::dropout_apply_packed<float>(n, bits, 1 / 0.9f, y, x, nullptr);
    });
    memory_bound("gaussian dropout", 2 * n * f, [&] { cuda::gaussian_noise<float>(n, state, 0.33f, 0.f, y, x, nullptr); });
    memory_bound("bias+dropout+residual", 3 * n * f, [&] {
      cuda::bias_dropout_residual<float>(n, 1024, state, dropout_threshold(0.1), 1 / 0.9f, y, x, g, m, nullptr);
    });
    memory_bound("reduce sum rows (1024)", n * f,
                 [&] { cuda::reduce<float>(ReduceKind::Sum, n / 1024, 1024, 1, y, x, nullptr, nullptr); });
    double* scratch = device_buffer<double>(cuda::reduce_scratch_size(1, n / 128, 128), 0.f);
    memory_bound("reduce sum columns (128)", n * f, [&] {  // a bias gradient's shape: rows summed per column
      cuda::reduce<float>(ReduceKind::Sum, 1, n / 128, 128, y, x, scratch, nullptr);
    });
    memory_bound("softmax rows (1024)", 2 * n * f, [&] { cuda::softmax_forward<float>(false, n / 1024, 1024, y, x, nullptr); });
    memory_bound("softmax+dropout causal (128)", 3 * n * f, [&] {  // reads x, writes y and probs
      cuda::softmax_dropout_forward<float>(n / 128, SoftmaxDropoutShape{128, 128, true, true}, state,
                                           dropout_threshold(0.1), 1 / 0.9f, y, m, x, nullptr);
    });
    // bf16 (autocast's activations): the same work on half the bytes, computed in f32.
    bf16 *xh = device_buffer<bf16>(n, 0.5f), *yh = device_buffer<bf16>(n, 0.f), *ph = device_buffer<bf16>(n, 0.f);
    const double h = sizeof(bf16);
    memory_bound("unary gelu bf16", 2 * n * h,
                 [&] { cuda::unary_forward<bf16>(UnaryKind::Gelu, n, yh, xh, contiguous, nullptr); });
    memory_bound("dropout forward p=0.1 bf16", 2 * n * h, [&] {
      cuda::dropout_affine<bf16>(n, state, dropout_threshold(0.1), DropoutAffine{1 / 0.9, 0, 0}, yh, xh, nullptr);
    });
    memory_bound("bias+dropout+residual bf16 x", n * h + 2 * n * f, [&] {
      cuda::bias_dropout_residual<float>(n, 1024, state, dropout_threshold(0.1), 1 / 0.9f, y, xh, g, m, nullptr);
    });
    memory_bound("softmax+dropout causal bf16", 3 * n * h, [&] {
      cuda::softmax_dropout_forward<bf16>(n / 128, SoftmaxDropoutShape{128, 128, true, true}, state,
                                          dropout_threshold(0.1), 1 / 0.9f, yh, ph, xh, nullptr);
    });
    memory_bound("layer_norm rows (1024)", 2 * n * f, [&] {
      cuda::layer_norm_forward<float>(n / 1024, 1024, 1e-5, y, m, v, x, g, g, nullptr);
    });
    memory_bound("cross-entropy fwd (1024)", n * f, [&] {
      cuda::cross_entropy_forward<float>(n / 1024, 1024, x, labels, y, y + n / 1024, nullptr);
    });
    memory_bound("adamw step", 7 * n * f, [&] {
      const AdamParams hp{1e-3, 0.9, 0.999, 1e-8, 0.01, true, false, 0.1, 0.001};
      const ParamBuffers<float> tensor{x, g, {m, v, nullptr}, n};
      cuda::optimizer_step<float>(hp, std::span<const ParamBuffers<float>>(&tensor, 1), nullptr);
    });

    // GEMM: the native tiled kernel against cuBLAS on one square problem.
    const int64_t s = 4096;
    float *a = device_buffer<float>(s * s, 0.01f), *b = device_buffer<float>(s * s, 0.02f),
          *c = device_buffer<float>(s * s, 0.f);
    cublasHandle_t handle;
    cublasCreate(&handle);
    const double flops = 2.0 * s * s * s;
    const double native_ms = timer.median_ms([&] { cuda::gemm<float>(false, false, 1, s, s, s, a, s, 0, b, s, 0, c, nullptr); });
    const float one = 1, zero = 0;
    const double cublas_ms = timer.median_ms([&] {
      cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, s, s, s, &one, b, s, a, s, &zero, c, s);
    });
    fmt::print("gemm {}^3 f32: native {:.1f} GFLOP/s, cuBLAS {:.1f} GFLOP/s, ratio {:.0f}%\n", s, flops / native_ms / 1e6,
               flops / cublas_ms / 1e6, 100 * cublas_ms / native_ms);
    results.push_back({{"kernel", "gemm 4096 f32"}, {"native_gflops", flops / native_ms / 1e6},
                       {"cublas_gflops", flops / cublas_ms / 1e6}});

    // The same problem in bf16 with f32 accumulation (autocast's GEMM): the native kernel widens
    // as it loads and uses no tensor cores; cuBLAS does.
    bf16 *ah = device_buffer<bf16>(s * s, 0.01f), *bh = device_buffer<bf16>(s * s, 0.02f),
         *ch = device_buffer<bf16>(s * s, 0.f);
    const double native_bf16_ms =
        timer.median_ms([&] { cuda::gemm<bf16>(false, false, 1, s, s, s, ah, s, 0, bh, s, 0, ch, nullptr); });
    const double cublas_bf16_ms = timer.median_ms([&] {
      cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, s, s, s, &one, bh, CUDA_R_16BF, s, ah, CUDA_R_16BF, s, &zero, ch,
                   CUDA_R_16BF, s, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    });
    fmt::print("gemm {}^3 bf16 (f32 accumulation): native {:.1f} GFLOP/s, cuBLAS {:.1f} GFLOP/s, ratio {:.0f}%\n", s,
               flops / native_bf16_ms / 1e6, flops / cublas_bf16_ms / 1e6, 100 * cublas_bf16_ms / native_bf16_ms);
    results.push_back({{"kernel", "gemm 4096 bf16"}, {"native_gflops", flops / native_bf16_ms / 1e6},
                       {"cublas_gflops", flops / cublas_bf16_ms / 1e6}});

    // Causal attention of 32 x 4 heads over T = 1024, head dim 64, dropout 0.1, f32: flash_attention's
    // kernels against the composed path (cuBLAS scores, softmax_dropout, cuBLAS P v) forward, and
    // flash_attention's backward. GFLOP/s count the visible half of the scores (ops/backend.h).
    const int64_t groups = 128, t = 1024, dh = 64;
    const FlashAttentionShape attn{groups, dh, 0.125, {t, t, true, true}};
    const uint64_t keep = dropout_threshold(0.1);
    float *aq = device_buffer<float>(groups * t * dh, 0.01f), *ak = device_buffer<float>(groups * t * dh, 0.02f),
          *av = device_buffer<float>(groups * t * dh, 0.03f), *ao = device_buffer<float>(groups * t * dh, 0.f),
          *alse = device_buffer<float>(groups * t, 0.f), *agrad = device_buffer<float>(4 * groups * t * dh, 0.01f),
          *adelta = device_buffer<float>(groups * t, 0.f), *scores = device_buffer<float>(3 * groups * t * t, 0.f);
    const double attn_flops = flash_attention_flops(attn, false);
    const double flash_ms = timer.median_ms([&] {
      cuda::flash_attention_forward<float>(attn, state, keep, 1 / 0.9f, ao, alse, aq, ak, av, nullptr);
    });
    const float score_scale = 0.125f;
    const double composed_ms = timer.median_ms([&] {  // row-major [T, T] = column-major transposes
      cublasSgemmStridedBatched(handle, CUBLAS_OP_T, CUBLAS_OP_N, t, t, dh, &score_scale, ak, dh, t * dh, aq, dh,
                                t * dh, &zero, scores, t, t * t, groups);
      cuda::softmax_dropout_forward<float>(groups * t, attn.scores, state, keep, 1 / 0.9f, scores + groups * t * t,
                                           scores + 2 * groups * t * t, scores, nullptr);
      cublasSgemmStridedBatched(handle, CUBLAS_OP_N, CUBLAS_OP_N, dh, t, t, &one, av, dh, t * dh,
                                scores + groups * t * t, t, t * t, &zero, ao, dh, t * dh, groups);
    });
    const double backward_ms = timer.median_ms([&] {
      const int64_t n_qkv = groups * t * dh;
      cuda::flash_attention_backward<float>(attn, state, keep, 1 / 0.9f, agrad + n_qkv, agrad + 2 * n_qkv,
                                            agrad + 3 * n_qkv, adelta, agrad, aq, ak, av, ao, alse, nullptr);
    });
    fmt::print("attention 128x1024^2 dh 64 causal f32: flash forward {:.1f} GFLOP/s, composed (cuBLAS) forward {:.1f} "
               "GFLOP/s, flash backward {:.1f} GFLOP/s\n",
               attn_flops / flash_ms / 1e6, attn_flops / composed_ms / 1e6,
               flash_attention_flops(attn, true) / backward_ms / 1e6);
    results.push_back({{"kernel", "attention 128x1024^2 dh 64 causal f32"}, {"flash_forward_ms", flash_ms},
                       {"composed_forward_ms", composed_ms}, {"flash_backward_ms", backward_ms}});
    // The same forward on bf16 q, k, v and out (f32 tiles and lse).
    const int64_t qkv_elements = groups * t * dh;
    bf16 *hq = device_buffer<bf16>(qkv_elements, 0.01f), *hk = device_buffer<bf16>(qkv_elements, 0.02f),
         *hv = device_buffer<bf16>(qkv_elements, 0.03f), *ho = device_buffer<bf16>(qkv_elements, 0.f);
    const double flash_bf16_ms = timer.median_ms(
        [&] { cuda::flash_attention_forward<bf16>(attn, state, keep, 1 / 0.9f, ho, alse, hq, hk, hv, nullptr); });
    fmt::print("attention 128x1024^2 dh 64 causal bf16: flash forward {:.1f} GFLOP/s\n",
               attn_flops / flash_bf16_ms / 1e6);
    results.push_back({{"kernel", "attention 128x1024^2 dh 64 causal bf16"}, {"flash_forward_ms", flash_bf16_ms}});
    if (!json_path.empty()) std::ofstream(json_path) << results.dump(2) << '\n';
  } catch (const std::exception& e) {
    fmt::print(stderr, "minidl_kernel_bench: {}\n", e.what());
    return 1;
  }
  return 0;
}
