#!/bin/sh
# Runs "$@" and passes when it fails cleanly: exit status 1..127 (not a signal/crash) and a plain
# message on stderr (no source location or C++ library text: tests/cli/user_errors_test.cpp).
err=$("$@" 2>&1 >/dev/null)
rc=$?
if printf '%s' "$err" | grep -Eq '\.(cpp|hpp|cu|h):[0-9]|internal error|std::|basic_filebuf|filesystem error|json\.exception|bad_alloc|Sanitizer|runtime error:'; then
  echo "message is not plain: '$err'"
  exit 1
fi
if [ "$rc" -ge 1 ] && [ "$rc" -lt 128 ] && [ -n "$err" ]; then
  echo "failed cleanly (exit $rc): $err"
  exit 0
fi
echo "expected a clean failure, got exit $rc, stderr: '$err'"
exit 1
