"""The cross-province app alliance (粤省事, 随申办, 赣服通), simulated: see common.py."""
