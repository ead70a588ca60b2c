"""Exact golden models of the hwlib operators, on beat arrays (see mase_hwlib.streams)."""
