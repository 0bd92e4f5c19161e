# easel_test(NAME SOURCES src... LIBS lib... [LABELS label...])
# One GoogleTest binary, registered with ctest under its own name.
function(easel_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "EASEL_BUILD_DIR=${CMAKE_BINARY_DIR};EASEL_SOURCE_DIR=${CMAKE_SOURCE_DIR};EASEL_SHARED_DIR=${EASEL_SHARED_DIR}")
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()

# Libraries that include <torch/torch.h> compile it once as a precompiled header.
function(easel_torch_pch target)
  target_precompile_headers(${target} PRIVATE <torch/torch.h>)
endfunction()
