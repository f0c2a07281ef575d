"""placeholder; see README.md"""
