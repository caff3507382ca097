# Included by framework/CMakeLists.txt right after merx_part(datasets ...): adds the adapters (one folder
# per corpus, framework/datasets/<adapter>/*.cpp) to merx_datasets and compiles their errata data files
# (framework/datasets/<adapter>/errata.json) into the library, so the installed binary needs no data files.
file(GLOB MERX_ADAPTER_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/datasets/*/*.cpp)
file(GLOB MERX_ERRATA_FILES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/datasets/*/errata.json)
add_custom_command(
  OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/errata_data.cpp
  COMMAND ${CMAKE_COMMAND} -DDIR=${CMAKE_CURRENT_SOURCE_DIR}/datasets
          -DOUT=${CMAKE_CURRENT_BINARY_DIR}/errata_data.cpp -P ${CMAKE_CURRENT_SOURCE_DIR}/datasets/embed_errata.cmake
  DEPENDS ${MERX_ERRATA_FILES} ${CMAKE_CURRENT_SOURCE_DIR}/datasets/embed_errata.cmake
  COMMENT "Embedding framework/datasets/*/errata.json")
target_sources(merx_datasets PRIVATE ${MERX_ADAPTER_SOURCES} ${CMAKE_CURRENT_BINARY_DIR}/errata_data.cpp)
