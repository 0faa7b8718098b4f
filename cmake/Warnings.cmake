# MINIDL_SANITIZE: AddressSanitizer + UndefinedBehaviorSanitizer everywhere (the CI job that reruns
# the emulated CUDA kernels under them).
option(MINIDL_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(MINIDL_SANITIZE)
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-sanitize-recover=undefined>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-omit-frame-pointer>)
  add_link_options(-fsanitize=address,undefined)
endif()

# minidl_warnings(target): -Wall -Wextra everywhere; errors when MINIDL_WERROR is on (CI).
function(minidl_warnings target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wshadow=local>)
  # GCC 12 reports -Wrestrict inside libstdc++'s std::string at -O3 for ordinary concatenations
  # (GCC bug 105651); the warning says nothing about our code there.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wno-restrict>)
  endif()
  if(MINIDL_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
  endif()
endfunction()
