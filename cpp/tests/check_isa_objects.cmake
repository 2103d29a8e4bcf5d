# The objects of the instruction-set files (neuron_loops_<isa>.cpp, lanczos_passes_<isa>.cpp) must
# define only their own <isa> functions, as ordinary (strong, text) symbols: a weak or COMDAT
# definition (an inline function, a template instance) compiled with AVX2 or AVX-512 could be the
# copy the linker keeps for every caller, and crash the portable path on a CPU without those
# instructions.
# Usage: cmake -DNM=<nm> -DOBJECTS="<objects;...>" -P check_isa_objects.cmake
set(checked 0)
foreach(obj IN LISTS OBJECTS)
  if(NOT obj MATCHES "(neuron_loops|lanczos_passes)_(avx2|avx512)\\.cpp\\.o(bj)?$")
    continue()
  endif()
  set(isa "${CMAKE_MATCH_2}")
  execute_process(COMMAND "${NM}" -C --defined-only "${obj}" OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${obj}")
  endif()
  string(REPLACE "\n" ";" lines "${symbols}")
  foreach(line IN LISTS lines)
    if(line MATCHES "^[0-9a-fA-F]+ ([A-Za-z]) (.*)$")
      set(type "${CMAKE_MATCH_1}")
      set(name "${CMAKE_MATCH_2}")
      if(type MATCHES "^[a-z]$" AND NOT type MATCHES "^[uvw]$")
        continue()  # local symbols (constants, static functions) are private to the file
      endif()
      if(NOT type STREQUAL "T" OR NOT name MATCHES "_${isa}\\(")
        message(FATAL_ERROR "${obj}: symbol '${name}' (type ${type}) may be shared with other files")
      endif()
      math(EXPR checked "${checked} + 1")
    endif()
  endforeach()
endforeach()
if(checked EQUAL 0)
  message(FATAL_ERROR "no <isa> function found in: ${OBJECTS}")
endif()
message(STATUS "${checked} <isa> functions, no shared definitions")
