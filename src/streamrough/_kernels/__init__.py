"""Numba kernels. Pure numerics only: no dask, no zarr, no I/O, no Python objects.

Nothing here is imported by ``import streamrough``; each eager module imports the kernel
module it needs on first use, so the import of the package compiles nothing.
"""
