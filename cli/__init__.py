"""The `manualqa` console script: thin commands over `manualqa` and `sql`."""
