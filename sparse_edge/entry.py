"""The ``sparse-edge`` console script: the CLI, with Ctrl-C quiet from the first moment.

The console script imports its target before calling it; Ctrl-C while ``click`` and the
command's modules are still importing would print a ``KeyboardInterrupt`` traceback. Importing
inside this function lets one handler cover the import too (exit 130, one line).
"""



def main() -> None:
    from edge_runtime import stopping

    stopping.stop_on_sigterm()   # SIGTERM stops as Ctrl-C does (exit 143)
    try:
        from sparse_edge.cli import main as cli

        cli()
    except KeyboardInterrupt as error:
        stopping.stop(error)
