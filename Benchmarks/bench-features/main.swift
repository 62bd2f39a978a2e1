print("bench-features: todo")
