# Turns files into a C source with one byte array each.
# Input: OUT (the .c to write), LIST (a file holding the ;-separated paths),
# BASE (names are relative to it), SYMBOL_PREFIX.
# Used for SQL migrations and the dashboard's static files, so the daemon is
# one binary with nothing to find at run time.
file(READ "${LIST}" FILES)
set(body "#include <stddef.h>\n#include \"core/embed.h\"\n")
set(table "")
set(i 0)
list(SORT FILES)
foreach(f IN LISTS FILES)
  file(READ "${f}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  get_filename_component(name "${f}" NAME)
  file(RELATIVE_PATH rel "${BASE}" "${f}")
  string(APPEND body "static const unsigned char ${SYMBOL_PREFIX}_${i}[] = {${bytes}0x00};\n")
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(APPEND table "  {\"${rel}\", ${SYMBOL_PREFIX}_${i}, ${len}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "const embed_file_t ${SYMBOL_PREFIX}_files[] = {\n${table}  {NULL, NULL, 0}\n};\n")
file(WRITE "${OUT}.tmp" "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
