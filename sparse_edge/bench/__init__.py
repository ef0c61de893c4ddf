"""Benchmarks: each measures one stage and writes JSON (never a timed test)."""
