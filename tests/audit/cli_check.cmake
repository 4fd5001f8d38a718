# One `rootopt audit` CLI test: removes OUT, runs tests/cli/expect.cmake (exit status and output
# regex), then checks that OUT holds PRESENT files (success) or does not exist at all (failure:
# nothing partial left behind, not even a temporary next to it).
file(REMOVE_RECURSE "${OUT}")
include("${EXPECT_SCRIPT}")
foreach(name ${PRESENT})
  if(NOT EXISTS "${OUT}/${name}")
    message(FATAL_ERROR "missing output ${OUT}/${name}")
  endif()
endforeach()
if(NOT PRESENT AND EXISTS "${OUT}")
  message(FATAL_ERROR "failed run left ${OUT} behind")
endif()
get_filename_component(parent "${OUT}" DIRECTORY)
get_filename_component(leaf "${OUT}" NAME)
file(GLOB leftovers "${parent}/.${leaf}.tmp.*")
if(leftovers)
  message(FATAL_ERROR "temporary left behind: ${leftovers}")
endif()
