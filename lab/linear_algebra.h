// Small dense linear algebra on the host, in double, for the lab's spectra: the eigen-
// decomposition of a symmetric matrix by Jacobi rotations, and the singular values of a low-rank
// product U V^T from the two factors' Gram matrices.
#pragma once

#include <cstdint>
#include <vector>

namespace minidl::lab {

// a = Q diag(values) Q^T for a symmetric a [n, n] (row-major) by cyclic Jacobi rotations: values
// descending, Q's columns (row-major [n, n]) the eigenvectors in the same order.
struct SymmetricEigen {
  std::vector<double> values, vectors;
};
SymmetricEigen symmetric_eigen(std::vector<double> a, int64_t n);

// The k singular values of U V^T (U [m, k], V [n, k]), descending, from the Gram matrices
// gram_u = U^T U and gram_v = V^T V [k, k]: the squared singular values are the eigenvalues of
// gram_u^(1/2) gram_v gram_u^(1/2), a k x k problem however large m and n are.
std::vector<double> product_singular_values(const std::vector<double>& gram_u, const std::vector<double>& gram_v,
                                            int64_t k);

}  // namespace minidl::lab
