# Installs the current build into a fresh prefix, then configures, builds and runs the consumer
# project (consumer/) against it, and runs the installed `rootopt`. Only the consumer is
# compiled; rootopt is not rebuilt.
#   cmake -DBUILD_DIR=... -DCONSUMER_DIR=... -DCXX_COMPILER=... -DSOURCE_DIR=...
#         -DINSTALL_DATA_DIR=... -DTINY_MODEL=... [-DCUDA_TOOLKIT_ROOT=...]
#         -P install_and_consume.cmake
# The installed binaries look for shipped files in INSTALL_DATA_DIR (the configured
# <prefix>/share/rootopt, not the temporary prefix), whether or not it exists: the checks below
# only need them never to look in SOURCE_DIR.

# The environment variables that would point rootopt at the source tree are unset for every step.
set(clean_env ${CMAKE_COMMAND} -E env --unset=ROOTOPT_DATA_DIR --unset=ROOTOPT_PLOT_SCRIPT)

# Fails the test, removing the work directory first.
function(fail)
  file(REMOVE_RECURSE ${WORK_DIR})
  message(FATAL_ERROR ${ARGN})
endfunction()

function(run step)
  execute_process(COMMAND ${clean_env} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    fail("${step} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${step}: ok")
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

# Outside the build tree, as a user's install and project are: a binary under rootopt's build
# directory reads the source tree (core/shipped_files.h). A random name keeps concurrent runs of
# this test from different build trees apart.
string(RANDOM LENGTH 10 suffix)
set(WORK_DIR /tmp/rootopt-install-test-${suffix})
if(DEFINED ENV{TMPDIR})
  set(WORK_DIR $ENV{TMPDIR}/rootopt-install-test-${suffix})
endif()
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(file include/rootopt/coefficient_table.h include/rootopt/version.h bin/rootopt)
  if(NOT EXISTS ${prefix}/${file})
    fail("install is missing ${file}")
  endif()
endforeach()

set(configure_args -S ${CONSUMER_DIR} -B ${WORK_DIR}/build -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_PREFIX_PATH=${prefix} -DEXPECTED_PREFIX=${prefix}
    -DEXPECTED_DATA_DIR=${INSTALL_DATA_DIR}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(CUDA_TOOLKIT_ROOT)
  list(APPEND configure_args -DCUDAToolkit_ROOT=${CUDA_TOOLKIT_ROOT})
endif()
run("configure consumer" ${CMAKE_COMMAND} ${configure_args})
run("build consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run("run consumer" ${WORK_DIR}/build/consumer ${WORK_DIR}/table.h5)
set(consumer_output "${last_output}")

# The installed command: the captured spectra of `eval` and the plot script of `audit` are looked
# up under INSTALL_DATA_DIR (whether found there or not), never under SOURCE_DIR.
set(rootopt ${prefix}/bin/rootopt)
if(EXISTS ${INSTALL_DATA_DIR}/spectra/fit)
  message(STATUS "installed eval: not checked, ${INSTALL_DATA_DIR} is populated on this machine")
else()
  execute_process(COMMAND ${clean_env} ${rootopt} eval --schedule muon --shape 64x64 --samples 1
                          --matrix-samples 0 --family captured
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0 OR NOT err MATCHES "no \\*.h5 spectra in ${INSTALL_DATA_DIR}/spectra/fit")
    fail("installed rootopt eval (exit ${rc}) did not look for captured spectra "
                        "in ${INSTALL_DATA_DIR}/spectra/fit:\n${out}\n${err}")
  endif()
  message(STATUS "installed eval looks for spectra in ${INSTALL_DATA_DIR}: ok")
endif()
# The spectra from the installed copy of data/ (ROOTOPT_DATA_DIR); ROOTOPT_PYTHON=true: the plot
# step names its script and never draws (no matplotlib needed).
execute_process(COMMAND ${clean_env} ROOTOPT_DATA_DIR=${prefix}/share/rootopt
                        ROOTOPT_PYTHON=/bin/true ${rootopt} audit
                        --model ${TINY_MODEL} --samples 2 --matrix-samples 1 --proxy-rank 16
                        --threads 1 --out ${WORK_DIR}/audit
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT err MATCHES "no plot: ${INSTALL_DATA_DIR}/tools/plot_audit.py")
  fail("installed rootopt audit (${rc}) did not look for its plot script in "
                      "${INSTALL_DATA_DIR}/tools:\n${err}")
endif()
foreach(text "${out}" "${err}")
  string(FIND "${text}" "${SOURCE_DIR}/" at)
  if(NOT at EQUAL -1)
    fail("installed rootopt names the source tree ${SOURCE_DIR}:\n${text}")
  endif()
endforeach()
message(STATUS "installed audit looks for its plot script in ${INSTALL_DATA_DIR}: ok")
message("${consumer_output}")
file(REMOVE_RECURSE ${WORK_DIR})
