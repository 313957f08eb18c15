"""The generation engine: config, pipelines, identity, face pass, loading, ZeroGPU, the tiny stack.

Import-cheap: no torch here or in `config`, `engine`, `loading`; importers name the submodule they need.
"""
