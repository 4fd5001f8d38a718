# Installs the current build into a fresh prefix, then configures, builds and runs the consumer
# project (consumer/) against it. Only the consumer is compiled; rootopt is not rebuilt.
#   cmake -DBUILD_DIR=... -DWORK_DIR=... -DCONSUMER_DIR=... -DCXX_COMPILER=...
#         [-DCUDA_TOOLKIT_ROOT=...] -P install_and_consume.cmake
function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${step} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${step}: ok")
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(file include/rootopt/coefficient_table.h)
  if(NOT EXISTS ${prefix}/${file})
    message(FATAL_ERROR "install is missing ${file}")
  endif()
endforeach()

set(configure_args -S ${CONSUMER_DIR} -B ${WORK_DIR}/build -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_PREFIX_PATH=${prefix} -DEXPECTED_PREFIX=${prefix}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(CUDA_TOOLKIT_ROOT)
  list(APPEND configure_args -DCUDAToolkit_ROOT=${CUDA_TOOLKIT_ROOT})
endif()
run("configure consumer" ${CMAKE_COMMAND} ${configure_args})
run("build consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run("run consumer" ${WORK_DIR}/build/consumer ${WORK_DIR}/table.h5)
message("${last_output}")
file(REMOVE_RECURSE ${WORK_DIR})
