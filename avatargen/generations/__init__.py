"""Generations: options, the service a person uses, the pose book, the queue, the worker and its jobs, recovery,
webhooks (URL checks) and their outbox, and health.

May import `credits`, `db`, `storage`, `poses` and the engine's torch-free parts (`engine.config`, `engine.identity`;
the worker: `engine.engine`, `engine.loading`, `engine.zerogpu`); never `web` or `ui`.
"""
