"""Catalog entries of the MXInt operators."""
