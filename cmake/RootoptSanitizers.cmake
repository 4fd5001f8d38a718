# ROOTOPT_SANITIZE: a -fsanitize= list (e.g. "address,undefined") for the whole C/C++ build; the
# sanitizer lane of CI (tools/sanitizer-lane) uses it. Every sanitizer report aborts
# (-fno-sanitize-recover), so a test fails on it. rootopt_sanitize_interface(target) puts the link
# flag on an installed static library's interface: a consumer's link then pulls in the sanitizer
# runtimes that the library's objects call (tests/install builds such a consumer).
set(ROOTOPT_SANITIZE "" CACHE STRING "Build with -fsanitize=<list>, e.g. address,undefined")

if(ROOTOPT_SANITIZE)
  add_compile_options(
    "$<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=${ROOTOPT_SANITIZE};-fno-sanitize-recover=all;-fno-omit-frame-pointer>")
  add_link_options(-fsanitize=${ROOTOPT_SANITIZE})
endif()

function(rootopt_sanitize_interface target)
  if(ROOTOPT_SANITIZE)
    target_link_options(${target} INTERFACE -fsanitize=${ROOTOPT_SANITIZE})
  endif()
endfunction()
