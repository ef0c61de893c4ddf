"""The ``sparse-edge`` command line and what only it needs: commands (``commands/``), the pipeline's
stages, benchmarks judged against one table of goals (``bench/``), the report tables and pictures
(``reports/``, collected into the documents by ``report.py``) and the Streamlit demo. The top of the
stack: it imports every package below it, and none imports it.
"""
