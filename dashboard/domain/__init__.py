"""The rules of the product; no Flask request state is used below this package."""
