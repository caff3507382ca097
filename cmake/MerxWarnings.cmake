# Warnings for merx's own targets (third-party headers come in as SYSTEM through imported targets).
function(merx_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor)
  if(MERX_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
