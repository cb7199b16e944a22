"""Benchmarks of the emulator against a bare websockets server (see bench/README.md)."""
