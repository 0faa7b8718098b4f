// Elementwise kernels: unary and binary math, copies and casts between views, fills. Every
// element is computed by the scalar functions the CPU reference uses (kernels/common/unary.h), in
// a grid-stride loop, so results depend neither on the grid nor on the block size. bf16 (GPU
// only, no CPU reference) is computed in float and rounded once on store.
//
// Two paths per op:
// - contiguous operands: plain indexing, and when every pointer is 16-byte aligned, 16-byte vector
//   loads and stores (float4 / double2 packs) with a scalar loop for the last n % width elements;
// - strided operands (transposed views, broadcasts with stride 0): each element's storage offset
//   from its StridedIndexer, with 32-bit index arithmetic when the shape has fewer than 2^32
//   elements (the same offsets as StridedIndexer::offset, which serves larger shapes).
//
// Under nvcc, exp/log/erf/tanh/pow in kernels/common resolve to CUDA's device math functions, which
// may differ from the host's libm in the last ulp: results on a real GPU match the CPU reference to
// an ulp or so for those kinds, bit for bit for the rest (neg, relu, add, ...). The SIMT emulator
// calls the host's libm, so there the match is exact (tests/test_parity_elementwise.cpp).
#include <cstdint>

#include "kernels/common/bfloat16.h"
#include "kernels/common/strided.h"
#include "kernels/common/unary.h"
#include "kernels/cuda/grid_stride.h"
#include "kernels/cuda/launch.h"

namespace minidl::MINIDL_CUDA_NS {

#include "kernels/cuda/elementwise.inc"

namespace {

// 16 bytes of T, for one vector load or store.
template <typename T>
struct alignas(16) Pack {
  static constexpr int kWidth = static_cast<int>(16 / sizeof(T));
  T v[kWidth];
};

template <typename T>
__device__ FW_INLINE Pack<T> load_pack(const T* p, int64_t k) {
  return reinterpret_cast<const Pack<T>*>(p)[k];
}

template <typename T>
__device__ FW_INLINE void store_pack(T* p, int64_t k, const Pack<T>& value) {
  reinterpret_cast<Pack<T>*>(p)[k] = value;
}

// The elements [0, n) of a contiguous op, spread over the grid: when Vectorized, packs k in
// [0, n / width) through pack(k) and then the rest through one(i); otherwise all through one(i).
template <typename T, bool Vectorized, typename PackFn, typename OneFn>
__device__ FW_INLINE void for_each_contiguous(int64_t n, PackFn pack, OneFn one) {
  const int64_t first = thread_index(), step = thread_count();
  int64_t done = 0;
  if constexpr (Vectorized) {
    const int64_t packs = n / Pack<T>::kWidth;
    for (int64_t k = first; k < packs; k += step) pack(k);
    done = packs * Pack<T>::kWidth;
  }
  for (int64_t i = done + first; i < n; i += step) one(i);
}

// ix.offset(i). With Index32 (the host checked that n and every size fit in 32 bits) the
// division runs in 32 bits, several times cheaper on a GPU than in 64; the offsets are the same.
template <bool Index32>
__device__ FW_INLINE int64_t offset_of(const StridedIndexer& ix, int64_t i) {
  if constexpr (Index32) {
    if (ix.contiguous) return ix.base + i;
    uint32_t linear = static_cast<uint32_t>(i);
    int64_t off = ix.base;
    for (int d = ix.ndim - 1; d >= 0; --d) {
      const uint32_t size = static_cast<uint32_t>(ix.sizes[d]);
      const uint32_t q = linear / size;
      off += static_cast<int64_t>(linear - q * size) * ix.strides[d];
      linear = q;
    }
    return off;
  } else {
    return ix.offset(i);
  }
}

// The scalar math of kernels/common/unary.h in compute_t<T> (float for bf16), rounded once on
// store; for float and double, exactly the reference's expression.
template <typename T, UnaryKind K>
__device__ FW_INLINE T unary_value(T x) {
  return T(::minidl::unary_forward(K, compute_t<T>(x)));
}

template <typename T, UnaryKind K>
__device__ FW_INLINE T unary_gradient(T grad_y, T x, T y) {
  using C = compute_t<T>;
  return T(C(grad_y) * ::minidl::unary_derivative(K, C(x), C(y)));
}

template <typename T, BinaryKind K>
__device__ FW_INLINE T binary_value(compute_t<T> a, compute_t<T> b) {
  return T(::minidl::binary_forward(K, a, b));
}

// The maps of one input: out[i] = Op(x[i]).
template <typename T, UnaryKind K>
struct UnaryMap {
  __device__ FW_INLINE T operator()(T x) const { return unary_value<T, K>(x); }
};

// a op b for a number b, kept in compute_t<T>: a bf16 tensor times a scale computes with the
// scale in f32, as PyTorch's Python numbers do, rather than with the scale rounded to bf16.
template <typename T, BinaryKind K>
struct ScalarRightMap {
  compute_t<T> b;
  __device__ FW_INLINE T operator()(T a) const { return binary_value<T, K>(a, b); }
};

// ---- unary

template <typename T, typename Map, bool Vectorized>
__global__ void map_contiguous_kernel(int64_t n, T* out, const T* x, Map map) {
  for_each_contiguous<T, Vectorized>(
      n,
      [&](int64_t k) {
        Pack<T> v = load_pack(x, k);
        for (int j = 0; j < Pack<T>::kWidth; ++j) v.v[j] = map(v.v[j]);
        store_pack(out, k, v);
      },
      [&](int64_t i) { out[i] = map(x[i]); });
}

template <typename T, typename Map, bool Index32>
__global__ void map_strided_kernel(int64_t n, T* out, const T* x, StridedIndexer ix, Map map) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) out[i] = map(x[offset_of<Index32>(ix, i)]);
}

template <typename T, UnaryKind K, bool Vectorized>
__global__ void unary_backward_kernel(int64_t n, T* grad_x, const T* grad_y, const T* x, const T* y) {
  for_each_contiguous<T, Vectorized>(
      n,
      [&](int64_t k) {
        const Pack<T> gy = load_pack(grad_y, k), xv = load_pack(x, k), yv = load_pack(y, k);
        Pack<T> gx;
        for (int j = 0; j < Pack<T>::kWidth; ++j) gx.v[j] = unary_gradient<T, K>(gy.v[j], xv.v[j], yv.v[j]);
        store_pack(grad_x, k, gx);
      },
      [&](int64_t i) { grad_x[i] = unary_gradient<T, K>(grad_y[i], x[i], y[i]); });
}

// ---- binary

template <typename T, BinaryKind K, bool Vectorized>
__global__ void binary_contiguous_kernel(int64_t n, T* out, const T* a, const T* b) {
  for_each_contiguous<T, Vectorized>(
      n,
      [&](int64_t k) {
        const Pack<T> av = load_pack(a, k), bv = load_pack(b, k);
        Pack<T> o;
        for (int j = 0; j < Pack<T>::kWidth; ++j) o.v[j] = binary_value<T, K>(av.v[j], bv.v[j]);
        store_pack(out, k, o);
      },
      [&](int64_t i) { out[i] = binary_value<T, K>(a[i], b[i]); });
}

template <typename T, BinaryKind K, bool Index32>
__global__ void binary_strided_kernel(int64_t n, T* out, const T* a, StridedIndexer ia, const T* b,
                                      StridedIndexer ib) {
  for (int64_t i = thread_index(); i < n; i += thread_count())
    out[i] = binary_value<T, K>(a[offset_of<Index32>(ia, i)], b[offset_of<Index32>(ib, i)]);
}

// ---- copies, casts, fills

// The value stored by a copy: the C++ conversion (on a GPU, a float out of an integer type's range
// saturates where the host's conversion is undefined), or != 0 for the cast to bool.
template <typename D, typename S, bool ToBool>
__device__ FW_INLINE D convert(S value) {
  if constexpr (ToBool) return value != S(0) ? D(1) : D(0);
  else return static_cast<D>(value);
}

template <typename D, typename S, bool ToBool>
__global__ void copy_contiguous_kernel(int64_t n, D* dst, const S* src) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) dst[i] = convert<D, S, ToBool>(src[i]);
}

template <typename D, typename S, bool ToBool, bool Index32>
__global__ void copy_strided_kernel(int64_t n, D* dst, StridedIndexer id, const S* src, StridedIndexer is) {
  for (int64_t i = thread_index(); i < n; i += thread_count())
    dst[offset_of<Index32>(id, i)] = convert<D, S, ToBool>(src[offset_of<Index32>(is, i)]);
}

template <typename T>
__global__ void fill_kernel(int64_t n, T* out, T value) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) out[i] = value;
}

// ---- launch helpers (host)

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <typename... Ptrs>
bool all_aligned16(const Ptrs*... ptrs) {
  return (aligned16(ptrs) && ...);
}

// Whether the strided kernels may index in 32 bits: n and every size of every view below 2^32.
template <typename... Ix>
bool fits_index32(int64_t n, const Ix&... ix) {
  constexpr int64_t kLimit = int64_t{1} << 32;
  auto view_fits = [](const StridedIndexer& v) {
    for (int d = 0; d < v.ndim; ++d)
      if (v.sizes[d] >= kLimit) return false;
    return true;
  };
  return n < kLimit && (view_fits(ix) && ...);
}

// Launches the vectorized kernel on packs (every pointer 16-byte aligned and at least one whole
// pack), the scalar one on elements otherwise. Both take (n, args...).
template <typename T, typename... Params, typename... Args>
void launch_contiguous(KernelName name, void (*vectorized)(int64_t, Params...), void (*scalar)(int64_t, Params...),
                       bool aligned, int64_t n, Stream stream, Args... args) {
  if (n <= 0) return;
  constexpr int64_t width = Pack<T>::kWidth;
  if (aligned && n >= width) {
    launch(name, vectorized, grid_for((n + width - 1) / width), dim3(launch_policy().block), 0, stream, n, args...);
  } else {
    launch_n(name, scalar, n, stream, args...);
  }
}

// The copy kernels' launch: contiguous, or strided in 32 or 64-bit index arithmetic.
template <typename D, typename S, bool ToBool>
void launch_copy(KernelName name, int64_t n, D* dst, const StridedIndexer& id, const S* src, const StridedIndexer& is,
                 Stream stream) {
  if (n <= 0) return;
  if (id.contiguous && is.contiguous) {
    launch_n(name, copy_contiguous_kernel<D, S, ToBool>, n, stream, dst + id.base, src + is.base);
  } else if (fits_index32(n, id, is)) {
    launch_n(name, copy_strided_kernel<D, S, ToBool, true>, n, stream, dst, id, src, is);
  } else {
    launch_n(name, copy_strided_kernel<D, S, ToBool, false>, n, stream, dst, id, src, is);
  }
}

// out[i] = map(x[ix(i)]) for a contiguous out: vectorized, scalar or strided in 32 or 64-bit.
template <typename T, typename Map>
void launch_map(KernelName name, int64_t n, T* out, const T* x, const StridedIndexer& ix, Map map, Stream stream) {
  if (n <= 0) return;
  if (ix.contiguous) {
    const T* xs = x + ix.base;
    launch_contiguous<T>(name, map_contiguous_kernel<T, Map, true>, map_contiguous_kernel<T, Map, false>,
                         all_aligned16(out, xs), n, stream, out, xs, map);
  } else if (fits_index32(n, ix)) {
    launch_n(name, map_strided_kernel<T, Map, true>, n, stream, out, x, ix, map);
  } else {
    launch_n(name, map_strided_kernel<T, Map, false>, n, stream, out, x, ix, map);
  }
}

}  // namespace

template <typename T>
void unary_forward(UnaryKind kind, int64_t n, T* out, const T* x, const StridedIndexer& ix, Stream stream) {
  dispatch_kind(kind,
                [&](auto k) { launch_map("unary_forward", n, out, x, ix, UnaryMap<T, decltype(k)::value>{}, stream); });
}

template <typename T>
void binary_scalar_forward(BinaryKind kind, int64_t n, T* out, const T* a, const StridedIndexer& ia, compute_t<T> b,
                           Stream stream) {
  dispatch_kind(kind, [&](auto k) {
    launch_map("binary_scalar_forward", n, out, a, ia, ScalarRightMap<T, decltype(k)::value>{b}, stream);
  });
}

template <typename T>
void unary_backward(UnaryKind kind, int64_t n, T* grad_x, const T* grad_y, const T* x, const T* y, Stream stream) {
  if (n <= 0) return;
  dispatch_kind(kind, [&](auto k) {
    constexpr UnaryKind K = decltype(k)::value;
    launch_contiguous<T>("unary_backward", unary_backward_kernel<T, K, true>, unary_backward_kernel<T, K, false>,
                         all_aligned16(grad_x, grad_y, x, y), n, stream, grad_x, grad_y, x, y);
  });
}

template <typename T>
void binary_forward(BinaryKind kind, int64_t n, T* out, const T* a, const StridedIndexer& ia, const T* b,
                    const StridedIndexer& ib, Stream stream) {
  if (n <= 0) return;
  dispatch_kind(kind, [&](auto k) {
    constexpr BinaryKind K = decltype(k)::value;
    if (ia.contiguous && ib.contiguous) {
      const T *as = a + ia.base, *bs = b + ib.base;
      launch_contiguous<T>("binary_forward", binary_contiguous_kernel<T, K, true>,
                           binary_contiguous_kernel<T, K, false>, all_aligned16(out, as, bs), n, stream, out, as, bs);
    } else if (fits_index32(n, ia, ib)) {
      launch_n("binary_forward", binary_strided_kernel<T, K, true>, n, stream, out, a, ia, b, ib);
    } else {
      launch_n("binary_forward", binary_strided_kernel<T, K, false>, n, stream, out, a, ia, b, ib);
    }
  });
}

template <typename D, typename S>
void copy_cast(int64_t n, D* dst, const StridedIndexer& id, const S* src, const StridedIndexer& is, Stream stream) {
  launch_copy<D, S, false>("copy_cast", n, dst, id, src, is, stream);
}

template <typename S>
void copy_to_bool(int64_t n, uint8_t* dst, const StridedIndexer& id, const S* src, const StridedIndexer& is,
                  Stream stream) {
  launch_copy<uint8_t, S, true>("copy_to_bool", n, dst, id, src, is, stream);
}

template <typename T>
void fill(int64_t n, T* out, T value, Stream stream) {
  launch_n("fill", fill_kernel<T>, n, stream, out, value);
}

#define MINIDL_FLOAT_LAUNCHERS(T)                                                                                \
  template void unary_forward<T>(UnaryKind, int64_t, T*, const T*, const StridedIndexer&, Stream);               \
  template void unary_backward<T>(UnaryKind, int64_t, T*, const T*, const T*, const T*, Stream);                 \
  template void binary_forward<T>(BinaryKind, int64_t, T*, const T*, const StridedIndexer&, const T*,            \
                                  const StridedIndexer&, Stream);                                                \
  template void binary_scalar_forward<T>(BinaryKind, int64_t, T*, const T*, const StridedIndexer&, compute_t<T>, \
                                         Stream);
MINIDL_FLOAT_LAUNCHERS(float)
MINIDL_FLOAT_LAUNCHERS(double)
MINIDL_FLOAT_LAUNCHERS(bf16)
#undef MINIDL_FLOAT_LAUNCHERS

#define MINIDL_COPY(D, S) \
  template void copy_cast<D, S>(int64_t, D*, const StridedIndexer&, const S*, const StridedIndexer&, Stream);
#define MINIDL_COPY_FROM(S)                                                                                  \
  template void copy_to_bool<S>(int64_t, uint8_t*, const StridedIndexer&, const S*, const StridedIndexer&,   \
                                Stream);                                                                     \
  MINIDL_COPY(float, S) MINIDL_COPY(double, S) MINIDL_COPY(int32_t, S) MINIDL_COPY(int64_t, S)               \
  MINIDL_COPY(uint8_t, S) MINIDL_COPY(bf16, S)                                                               \
  template void fill<S>(int64_t, S*, S, Stream);
MINIDL_COPY_FROM(float)
MINIDL_COPY_FROM(double)
MINIDL_COPY_FROM(int32_t)
MINIDL_COPY_FROM(int64_t)
MINIDL_COPY_FROM(uint8_t)
MINIDL_COPY_FROM(bf16)
#undef MINIDL_COPY_FROM
#undef MINIDL_COPY

}  // namespace minidl::MINIDL_CUDA_NS
