print("bench-extract: not written yet")
