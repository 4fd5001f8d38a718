# Installs the Python package of BUILD_DIR into PREFIX, then imports it with an isolated
# interpreter (python -I ignores PYTHONPATH and the user site) that adds PREFIX's site
# directories as site.getsitepackages computes them for a prefix, and steps a parameter.
#   cmake -DBUILD_DIR=... -DPYTHON=... -DPREFIX=... -DSITE_DIR=... -P install_and_import.cmake
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
                        --component python
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "install failed (${rc}):\n${out}\n${err}")
endif()
if(NOT EXISTS ${PREFIX}/${SITE_DIR}/rootopt/torch.py)
  message(FATAL_ERROR "the install has no ${SITE_DIR}/rootopt/torch.py under ${PREFIX}")
endif()
set(script [=[
import site, sys
prefix = sys.argv[1]
sys.path[:0] = site.getsitepackages([prefix]) + [prefix + "/lib/python%d.%d/site-packages" % sys.version_info[:2]]
import torch
import rootopt.torch
assert rootopt.torch.__file__.startswith(prefix), rootopt.torch.__file__
p = torch.nn.Parameter(torch.ones(4, 8))
p.grad = torch.randn(4, 8)
rootopt.torch.Muon([p], lr=0.1).step()
assert not torch.equal(p, torch.ones(4, 8))
print("imported rootopt from the install prefix:", rootopt.torch.__file__)
]=])
execute_process(COMMAND ${PYTHON} -I -c "${script}" ${PREFIX}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
file(REMOVE_RECURSE ${PREFIX})
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "import from ${PREFIX} failed (${rc}):\n${out}\n${err}")
endif()
message("${out}")
