# Fuzz targets. Each is one source file defining libFuzzer's entry point
#   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
# with a small seed corpus in tests/fuzz/corpus/<name>/ (docs/ci.md says how to run and extend).
#
# rootopt_add_fuzzer(name source [LIBS lib...]) builds the executable fuzz_<name> and registers
#   fuzz.<name>.corpus  replays every corpus file once: part of the normal test suite, any compiler;
#   fuzz.<name>.run     only with ROOTOPT_BUILD_FUZZERS: fuzzes for ROOTOPT_FUZZ_SECONDS from the
#                       corpus (label "fuzz-run", excluded from a plain `ctest` by .ci/run's -LE).
# With ROOTOPT_BUILD_FUZZERS=ON (clang) the executable is a libFuzzer binary and the whole build
# carries coverage instrumentation (-fsanitize=fuzzer-no-link); otherwise it is a plain program
# whose main (tests/fuzz/replay_main.cpp) feeds it the files and directories it is given and
# ignores libFuzzer's "-flag=value" arguments, so both builds run the same test command.
option(ROOTOPT_BUILD_FUZZERS "Build the fuzz targets as libFuzzer binaries (clang)" OFF)
set(ROOTOPT_FUZZ_SECONDS 60 CACHE STRING "Seconds each fuzz.<name>.run test fuzzes")

if(ROOTOPT_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "ROOTOPT_BUILD_FUZZERS needs clang (libFuzzer), e.g. "
                        "-DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_C_COMPILER=clang-14")
  endif()
  add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=fuzzer-no-link>)
endif()

function(rootopt_add_fuzzer name source)
  cmake_parse_arguments(F "" "" "LIBS" ${ARGN})
  set(target fuzz_${name})
  set(corpus ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name})
  if(NOT IS_DIRECTORY ${corpus})
    message(FATAL_ERROR "fuzzer ${name}: no seed corpus in ${corpus}")
  endif()
  add_executable(${target} ${source})
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/core
                                               ${PROJECT_SOURCE_DIR}/tests/fuzz)
  target_link_libraries(${target} PRIVATE ${F_LIBS})
  rootopt_warnings(${target})
  if(ROOTOPT_BUILD_FUZZERS)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  else()
    target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cpp)
  endif()
  # Readers of bundled data (captured:set=...) find it in the source tree.
  set(environment "ROOTOPT_DATA_DIR=${PROJECT_SOURCE_DIR}/data")
  add_test(NAME fuzz.${name}.corpus COMMAND ${target} -runs=0 ${corpus})
  set_tests_properties(fuzz.${name}.corpus PROPERTIES TIMEOUT 300 LABELS fuzz
                       ENVIRONMENT "${environment}")
  if(ROOTOPT_BUILD_FUZZERS)
    # New inputs go to the build tree; the repository's corpus is only read.
    set(work ${CMAKE_CURRENT_BINARY_DIR}/fuzz-${name})
    file(MAKE_DIRECTORY ${work}/corpus ${work}/artifacts)
    add_test(NAME fuzz.${name}.run
      COMMAND ${target} -max_total_time=${ROOTOPT_FUZZ_SECONDS} -rss_limit_mb=2048 -timeout=30
              -print_final_stats=1 -artifact_prefix=${work}/artifacts/ ${work}/corpus ${corpus})
    math(EXPR _limit "${ROOTOPT_FUZZ_SECONDS} + 120")
    set_tests_properties(fuzz.${name}.run PROPERTIES TIMEOUT ${_limit} LABELS fuzz-run
                         ENVIRONMENT "${environment}")
  endif()
endfunction()
