// Small dense linear algebra on the host, in double, for the lab: the eigen-decomposition of a
// symmetric matrix by Jacobi rotations, and the singular values of a low-rank product U V^T from
// the two factors' Gram matrices.
#pragma once

#include <vector>

namespace minidl::lab {

using Matrix = std::vector<std::vector<double>>;  // rows

// Eigenvalues (ascending) and unit eigenvectors (vectors[k] belongs to values[k]) of a small
// symmetric matrix, by cyclic Jacobi rotations.
struct SymmetricEigen {
  std::vector<double> values;
  Matrix vectors;
};
SymmetricEigen symmetric_eigen(Matrix a);

// The k singular values of U V^T (U [m, k], V [n, k]), descending, from gram_u = U^T U and
// gram_v = V^T V [k, k]: the squared singular values are the eigenvalues of
// gram_u^(1/2) gram_v gram_u^(1/2), a k x k problem however large m and n are.
std::vector<double> product_singular_values(const Matrix& gram_u, const Matrix& gram_v);

}  // namespace minidl::lab
