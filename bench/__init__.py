"""Benchmarks that print figures (DESIGN.md section 9); never part of the pass/fail suite."""
