"""Storage: photo checks and decoding under a memory budget (`photos`), and the file store (`store`).

Imports nothing of the app but `errors`.
"""
