"""Data sets: where they are found (a data folder, the user cache, the package) and how they
are downloaded (URL + sha256)."""
