"""Report helpers: the tables of what training and conversion wrote, the pattern pictures and attention maps.

Each table reads committed JSON under ``artifacts/`` and returns markdown; ``sparse_edge/report.py`` collects
them (with the benchmark tables beside their commands in ``sparse_edge/bench``) into the documents.
"""
