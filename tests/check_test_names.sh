#!/usr/bin/env bash
# Fails when a test case name contains a character that doctest treats as a filter separator or wildcard
# (';' splits CMake lists, '$' expands variables, '[' ']' and '\' confuse both; doctest's CMake script escapes
# commas):
# ctest would then run a filter that matches nothing and report a pass.
set -euo pipefail
status=0
for exe in "$@"; do
  while IFS= read -r name; do
    if [[ "$name" == *[\;\[\]\\\$]* ]]; then
      echo "$(basename "$exe"): test name that ctest cannot pass to doctest: $name"
      status=1
    fi
  done < <("$exe" --list-test-cases 2>/dev/null | grep -v -e '^\[doctest\]' -e '^====' || true)
done
[ $status -eq 0 ] && echo "test names ok ($# executables)"
exit $status
