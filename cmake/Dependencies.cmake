# Third-party libraries, all from Debian's packages (tools/setup installs them).
find_package(fmt REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(GTest REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED)

# OpenBLAS, the OpenMP build: it shares the cores with OpenMP instead of fighting it. It is
# loaded by its full path at run time (framework/ops/blas.cpp explains why), so the system's BLAS
# alternative does not decide which build runs.
set(MINIDL_OPENBLAS_DIR "/usr/lib/x86_64-linux-gnu/openblas-openmp" CACHE PATH "Directory of the OpenMP OpenBLAS")
find_file(MINIDL_OPENBLAS_LIB libopenblas.so.0 PATHS ${MINIDL_OPENBLAS_DIR} NO_DEFAULT_PATH REQUIRED)
find_path(MINIDL_CBLAS_INCLUDE cblas.h PATHS /usr/include/x86_64-linux-gnu/openblas-openmp NO_DEFAULT_PATH REQUIRED)
add_library(minidl::blas INTERFACE IMPORTED)
target_compile_definitions(minidl::blas INTERFACE MINIDL_OPENBLAS_PATH="${MINIDL_OPENBLAS_LIB}")
target_include_directories(minidl::blas INTERFACE ${MINIDL_CBLAS_INCLUDE})
target_link_libraries(minidl::blas INTERFACE ${CMAKE_DL_LIBS})
