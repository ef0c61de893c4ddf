"""``python -m edge_runtime MODEL.tflite "text" ...``: the edge-only command line.

``python -m edge_runtime serve MODEL.tflite`` runs the HTTP service (:mod:`edge_runtime.serve`),
``python -m edge_runtime sign`` signs files (:mod:`edge_runtime.signature`).
Ctrl-C or SIGTERM while the modules are still importing ends quietly too (exit 130 / 143, no
traceback: :mod:`edge_runtime.stopping`).
"""

import sys

from edge_runtime import stopping

stopping.stop_on_sigterm()
try:
    if sys.argv[1:2] == ["serve"]:
        from edge_runtime.serve import main

        main(args=sys.argv[2:], prog_name="python -m edge_runtime serve")
    elif sys.argv[1:2] == ["sign"]:
        from edge_runtime.cli import sign_command as main

        main(args=sys.argv[2:], prog_name="python -m edge_runtime sign")
    else:
        from edge_runtime.cli import main

        main(prog_name="python -m edge_runtime")
except KeyboardInterrupt as error:
    stopping.stop(error)
