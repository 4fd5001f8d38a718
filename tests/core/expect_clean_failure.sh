#!/bin/sh
# Runs "$@" and passes when it fails cleanly: exit status 1..127 (not a signal/crash) and a
# message on stderr.
err=$("$@" 2>&1 >/dev/null)
rc=$?
if [ "$rc" -ge 1 ] && [ "$rc" -lt 128 ] && [ -n "$err" ]; then
  echo "failed cleanly (exit $rc): $err"
  exit 0
fi
echo "expected a clean failure, got exit $rc, stderr: '$err'"
exit 1
