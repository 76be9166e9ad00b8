# Embeds src/server/web/* into the binary: a generated .cpp holding each file as a byte array,
# regenerated whenever a web file changes. No CDN, no files to install next to the binary.
file(GLOB CANTER_WEB_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/server/web/*)
set(CANTER_WEB_ASSETS_CPP ${CMAKE_CURRENT_BINARY_DIR}/generated/web_assets.cpp)
string(REPLACE ";" "|" _canter_web_list "${CANTER_WEB_FILES}")  # one shell word
add_custom_command(
  OUTPUT ${CANTER_WEB_ASSETS_CPP}
  COMMAND ${CMAKE_COMMAND} -DOUT=${CANTER_WEB_ASSETS_CPP} -DFILES=${_canter_web_list}
          -P ${CMAKE_SOURCE_DIR}/cmake/embed_web_run.cmake
  DEPENDS ${CANTER_WEB_FILES} ${CMAKE_SOURCE_DIR}/cmake/embed_web_run.cmake
  COMMENT "Embedding the web UI"
  VERBATIM)
