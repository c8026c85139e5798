# tieup_embed_files(TARGET target NAMESPACE ns FUNCTION fn FILES a.mustache ...)
# Compiles FILES into `target`: a generated source defines, in namespace `ns`,
#   const std::vector<std::pair<std::string_view, std::string_view>>& fn();
# returning (file name without extension, bytes) for each file. The target's own header
# declares the function. The source is generated again when a file changes.
function(tieup_embed_files)
  cmake_parse_arguments(E "" "TARGET;NAMESPACE;FUNCTION" "FILES" ${ARGN})
  set(abs_files "")
  foreach(f IN LISTS E_FILES)
    get_filename_component(abs "${f}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND abs_files "${abs}")
  endforeach()
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${E_FUNCTION}_embedded.cc")
  string(REPLACE ";" "|" files_arg "${abs_files}")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DNAMESPACE=${E_NAMESPACE} -DFUNCTION=${E_FUNCTION}
            "-DFILES=${files_arg}" -P ${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake
    DEPENDS ${abs_files} ${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake
    COMMENT "Embedding ${E_FUNCTION} (${E_NAMESPACE})"
    VERBATIM)
  target_sources(${E_TARGET} PRIVATE "${out}")
  # Its file-local names (kFile0...) repeat in every generated file: never in a unity batch.
  set_source_files_properties("${out}" PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
endfunction()
