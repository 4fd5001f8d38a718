# Runs COMMAND (arguments separated by "|") and checks its exit status and output:
#   cmake -DCOMMAND="prog|arg|..." -DEXPECT=success|failure -DREGEX=... -P expect.cmake
# CTest's PASS_REGULAR_EXPRESSION alone ignores the exit status; a CLI test needs both.
string(REPLACE "|" ";" argv "${COMMAND}")
execute_process(COMMAND ${argv} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("exit status: ${rc}\nstdout:\n${out}\nstderr:\n${err}")
if(EXPECT STREQUAL "success" AND NOT rc EQUAL 0)
  message(FATAL_ERROR "expected exit status 0, got ${rc}")
elseif(EXPECT STREQUAL "failure" AND (rc EQUAL 0 OR NOT rc MATCHES "^[0-9]+$"))
  message(FATAL_ERROR "expected a non-zero exit status (a clean error), got '${rc}'")
endif()
if(EXPECT STREQUAL "failure")
  set(checked "${err}")  # errors go to stderr
else()
  set(checked "${out}")
endif()
# A message a user can trigger is plain: no source location, internal check, C++ library text or
# sanitizer report (tests/cli/user_errors_test.cpp has the same list).
if(EXPECT STREQUAL "failure" AND
   err MATCHES "\\.(cpp|hpp|cu|h):[0-9]|internal error|std::|basic_filebuf|filesystem error|json\\.exception|bad_alloc|Sanitizer|runtime error:")
  message(FATAL_ERROR "the error message is not plain (source location or C++ library text)")
endif()
# rootopt reports HDF5 failures itself, naming the file; HDF5's own stack dump must stay silent.
if(err MATCHES "HDF5-DIAG")
  message(FATAL_ERROR "HDF5 printed its error stack")
endif()
if(NOT checked MATCHES "${REGEX}")
  message(FATAL_ERROR "output does not match '${REGEX}'")
endif()
