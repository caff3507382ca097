# merx_add_plugin(NAME <name> KIND <backbone|regularizer|augmenter> SOURCES <files...>
#                 [OUTPUT_DIR <dir>] [LINK <targets...>])
#
# Builds one merx plugin as a MODULE library named merx_<kind>_<name>.so that exports the entry point of
# merx/plugin_abi.h (write it with MERX_PLUGIN from merx/plugin.h). The library links LibTorch itself
# (one LibTorch per process: same soname as the host) and is linked with --no-undefined, so a missing
# symbol fails the build instead of the run.
function(merx_add_plugin)
  cmake_parse_arguments(P "" "NAME;KIND;OUTPUT_DIR" "SOURCES;LINK" ${ARGN})
  if(NOT P_NAME OR NOT P_KIND OR NOT P_SOURCES)
    message(FATAL_ERROR "merx_add_plugin: NAME, KIND and SOURCES are required")
  endif()
  if(NOT P_KIND MATCHES "^(backbone|regularizer|augmenter)$")
    message(FATAL_ERROR "merx_add_plugin(${P_NAME}): KIND must be backbone, regularizer or augmenter, not '${P_KIND}'")
  endif()
  if(NOT P_NAME MATCHES "^[a-z0-9_]+$")
    message(FATAL_ERROR "merx_add_plugin: NAME '${P_NAME}' must match [a-z0-9_]+")
  endif()
  set(target merx_${P_KIND}_${P_NAME})
  add_library(${target} MODULE ${P_SOURCES})
  set_target_properties(${target} PROPERTIES PREFIX "" OUTPUT_NAME ${target}
                        CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_VISIBILITY_PRESET hidden)
  if(P_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIR})
  elseif(DEFINED MERX_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${MERX_PLUGIN_OUTPUT_DIR})
  endif()
  if(TARGET merx_sdk)  # in merx's own tree: installed beside merx
    target_link_libraries(${target} PRIVATE merx_sdk)
    set_property(GLOBAL APPEND PROPERTY MERX_PLUGIN_TARGETS ${target})
  else()
    target_link_libraries(${target} PRIVATE merx::sdk)
  endif()
  target_link_libraries(${target} PRIVATE ${P_LINK})
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  if(COMMAND merx_warnings)
    merx_warnings(${target})
  endif()
  set(MERX_LAST_PLUGIN_TARGET ${target} PARENT_SCOPE)
endfunction()
