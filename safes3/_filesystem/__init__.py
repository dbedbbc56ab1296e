"""The ``safes3://`` fsspec filesystem for pandas, pyarrow and Dask."""
