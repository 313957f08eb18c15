"""The generation engine: config, pipelines, identity, face pass, loading, ZeroGPU, the tiny stack.

Import-cheap: only `tiny` imports torch when imported; the other modules import it inside the functions that run
models. Importers name the submodule they need.
"""
