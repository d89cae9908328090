"""One module per stage; each asset is a thin body over plain helpers."""
